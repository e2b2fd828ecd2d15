"""The comparisons of conformance: recorded decisions against the policy's, column by column.

All checks are Arrow kernels over one policy group; only the few examples kept per deviation
kind become Python objects. A gateway may log a deployment by its catalog id, its model name
or its price-table key (LiteLLM logs ``azure/eu/gpt-4o-mini-2024-07-18``); all three name the
deployment. Its region is the recorded one, else the catalog's when the name is unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nexusctl.evidence.conformance_model import DeviationExample

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.evidence.policies import PolicyVersion
    from nexusctl.policy.catalog import Deployment
    from nexusctl.policy.loader import LoadedPolicy

EXAMPLES = 5
_SEP = "\x1f"
#: kind -> the (expected outcome, recorded outcome) pairs it names.
_OUTCOME_KINDS = {
    "missed-refusal": (("refused", "routed"),),
    "missed-escalation": (("escalated", "routed"),),
    "unexpected-refusal": (("routed", "refused"),),
    "unexpected-escalation": (("routed", "escalated"),),
    "outcome-mismatch": (("refused", "escalated"), ("escalated", "refused")),
}


@dataclass
class GroupOutcome:
    """What one policy group's comparison found."""

    decision_checked: int = 0
    deviating: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[DeviationExample]] = field(default_factory=dict)


def format_usd(pusd: int | None) -> str:
    """Pico-USD as dollars with six decimals (``$0.002000``); empty for None."""
    if pusd is None:
        return ""
    whole, frac = divmod(int(pusd), 10**12)
    return f"${whole}.{frac // 10**6:06d}"


def _text(value: str) -> Any:
    import pyarrow as pa

    return pa.scalar(value, pa.string())


def _count(mask: Any) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.cast(mask, "int64")).as_py() or 0)


def deployment_names(dep: Deployment) -> set[str]:
    """The names a gateway may log a deployment by: its id, its model, its price-table key
    (``azure/eu/gpt-4o-mini-2024-07-18``) and that key without its provider prefix (the
    traffic importers strip it: ``eu/gpt-4o-mini-2024-07-18``)."""
    source = getattr(dep.pricing, "source", None) if dep.pricing is not None else None
    key = getattr(source, "key", None)
    names = {dep.id, dep.model}
    if isinstance(key, str) and key:
        names |= {key, key.split("/", 1)[-1]}
    return {n for n in names if n}


def _aliases(loaded: LoadedPolicy) -> tuple[set[str], dict[str, str]]:
    """Return ``alias<SEP>id`` pairs, and alias -> region where the alias names one region."""
    pairs: set[str] = set()
    regions: dict[str, set[str]] = {}
    for dep in loaded.catalog.catalog.spec.deployments:
        for alias in deployment_names(dep):
            if alias:
                pairs.add(f"{alias}{_SEP}{dep.id}")
                regions.setdefault(alias, set()).add(dep.region)
    unique = {alias: next(iter(rs)) for alias, rs in regions.items() if len(rs) == 1}
    return pairs, unique


def compare(
    group: pa.Table,
    routable: pa.Array,
    base: pa.Table,
    determined: pa.Array,
    version: PolicyVersion,
    loaded: LoadedPolicy,
    registry: bool,
) -> GroupOutcome:
    """Compare a group's records with the policy's decisions ``base`` (one per routable row).

    ``determined`` marks the routable rows whose decision does not depend on what the record
    lacks; only those are checked for outcome, deployment and cost cap.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out = GroupOutcome()
    deviating = np.zeros(group.num_rows, dtype=bool)
    numbers = pa.array(np.arange(group.num_rows, dtype=np.int64))
    rows = group.append_column("_n", numbers).filter(routable)
    exp_out, act_out = base.column("outcome"), rows.column("outcome")
    exp_dep, act_dep = base.column("deployment_id"), rows.column("deployment_id")
    out.decision_checked = _count(determined)

    def record(kind: str, mask: Any, checked: Any, table: pa.Table, describe: Any) -> None:
        mask = pc.fill_null(mask, False)
        out.counts[kind] = out.counts.get(kind, 0) + _count(mask)
        out.checked[kind] = out.checked.get(kind, 0) + _count(pc.fill_null(checked, False))
        hits = pc.indices_nonzero(mask).to_numpy()
        if len(hits):
            deviating[table.column("_n").to_numpy()[hits]] = True
        kept = out.examples.setdefault(kind, [])
        for index in hits[: EXAMPLES - len(kept)]:
            row = table.slice(int(index), 1).to_pylist()[0]
            expected, actual = describe(int(index), row)
            kept.append(
                DeviationExample(
                    request_id=row["request_id"],
                    time_unix_us=row["time_unix_us"],
                    environment=row["environment"],
                    reason=kind,
                    expected=expected,
                    actual=actual,
                )
            )

    def decided(index: int, row: dict[str, Any]) -> tuple[str, str]:
        dep = base.column("deployment_id")[index].as_py()
        exp = f"{base.column('outcome')[index].as_py()} {dep or '-'}"
        exp += f" (route {base.column('route_id')[index].as_py()})"
        return exp, f"{row['outcome']} {row['deployment_id'] or '-'}"

    for kind, pairs_of in _OUTCOME_KINDS.items():
        mask = pa.array([False] * rows.num_rows, pa.bool_())
        for expected, actual in pairs_of:
            hit = pc.and_(pc.equal(exp_out, expected), pc.equal(act_out, actual))
            mask = pc.or_(mask, pc.fill_null(hit, False))
        record(kind, pc.and_(determined, mask), determined, rows, decided)

    pairs, regions = _aliases(loaded)
    both = pc.and_(determined, pc.and_(pc.is_valid(exp_dep), pc.is_valid(act_dep)))
    key = pc.binary_join_element_wise(act_dep, exp_dep, _text(_SEP))
    same = pc.fill_null(pc.is_in(key, pa.array(sorted(pairs), pa.string())), False)
    record("deployment-mismatch", pc.and_(both, pc.invert(same)), both, rows, decided)

    caps = {r.id: r.max_cost * 1_000_000 for r in loaded.policy.spec.routes if r.max_cost}
    default = loaded.policy.spec.default
    if default.max_cost:
        caps[default.id] = default.max_cost * 1_000_000
    cap_ids = pa.array(list(caps), pa.string())
    cap = pc.take(
        pa.array(list(caps.values()), pa.int64()), pc.index_in(base.column("route_id"), cap_ids)
    )
    cost = rows.column("cost_pusd")
    has_cost = pc.and_(determined, pc.and_(pc.is_valid(cap), pc.is_valid(cost)))

    def over(index: int, row: dict[str, Any]) -> tuple[str, str]:
        route = base.column("route_id")[index].as_py()
        return f"cost <= {format_usd(caps[route])} (route {route})", format_usd(row["cost_pusd"])

    record("over-cost-cap", pc.and_(has_cost, pc.greater(cost, cap)), has_cost, rows, over)

    everything = group.append_column("_n", numbers)
    _residency(everything, loaded, regions, record)
    if registry and version.digest is not None:
        digest = everything.column("policy_digest")
        named = pc.is_valid(digest)
        mismatch = pc.and_(named, pc.not_equal(digest, version.digest))
        record(
            "policy-not-live",
            mismatch,
            named,
            everything,
            lambda _i, row: (f"{version.label()} {version.digest}", str(row["policy_digest"])),
        )
    out.deviating = int(deviating.sum())
    return out


def _residency(table: pa.Table, loaded: LoadedPolicy, regions: dict[str, str], record: Any) -> None:
    """Residency: the region served must be one the record's residency class allows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    allowed = {r.id: list(r.regions) for r in loaded.policy.spec.residency_classes}
    pairs = pa.array(
        sorted(f"{cls}{_SEP}{region}" for cls, rs in allowed.items() for region in rs), pa.string()
    )
    dep = table.column("deployment_id")
    known = pa.array(list(regions), pa.string())
    from_catalog = pc.take(pa.array(list(regions.values()), pa.string()), pc.index_in(dep, known))
    region = pc.coalesce(table.column("region"), from_catalog)
    served = pc.not_equal(pc.fill_null(table.column("outcome"), "refused"), "refused")
    checked = pc.and_(
        served, pc.and_(pc.is_valid(region), pc.is_valid(table.column("residency_class")))
    )
    key = pc.binary_join_element_wise(table.column("residency_class"), region, _text(_SEP))
    breach = pc.and_(checked, pc.invert(pc.fill_null(pc.is_in(key, pairs), False)))
    regions_of = region.to_pylist() if _count(breach) else []

    def describe(index: int, row: dict[str, Any]) -> tuple[str, str]:
        cls = row["residency_class"]
        expected = f"{cls}: {', '.join(allowed.get(cls, [])) or 'no region (class unknown)'}"
        return expected, f"{row['deployment_id'] or '-'} in {regions_of[index]}"

    record("residency-breach", breach, checked, table, describe)
