"""Conformance's replay: records as traffic, routed under the defaults and every probe.

See :mod:`nexusctl.evidence.conformance` for why the probes exist: DecisionRecord v1 does not
carry the risk class, required capabilities, complexity or confidence, so a decision is only
checked where none of them could change it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy

#: Attributes routing needs that a record may leave null.
NEEDED = ("app", "use_case", "data_class", "residency_class", "input_tokens", "output_tokens")


def probes(loaded: LoadedPolicy) -> list[tuple[str, str, Any]]:
    """(attribute, column, value) variants of the unrecorded attributes the policy reads."""
    from nexusctl.traffic.schema import RISK_CLASSES

    policy, catalog = loaded.policy, loaded.catalog.catalog
    spec = policy.spec
    routes = [*spec.routes, spec.default]
    matches = [r.match for r in spec.routes if r.match]
    matches += [g.when for g in spec.guardrails if g.when]
    matches += [e.when for e in spec.escalation if e.when]
    complexity: set[float] = {t.at_least for r in routes for t in r.complexity_thresholds}
    for match in matches:
        if match.complexity is not None:
            if match.complexity.min is not None:
                complexity.add(match.complexity.min)
            if match.complexity.max is not None and match.complexity.max < 1:
                complexity.add(math.nextafter(match.complexity.max, 2.0))
    complexity.discard(0.0)
    probes: list[tuple[str, str, Any]] = [
        ("complexity", "complexity", v) for v in sorted(complexity)
    ]
    if any(m.risk_classes for m in matches):
        probes += [("risk-class", "risk_class", v) for v in RISK_CLASSES if v != "low"]
    capabilities = {c for m in matches for c in (m.capabilities or [])}
    every = {c for d in catalog.spec.deployments for c in d.capabilities}
    capabilities |= {
        c for c in every if any(c not in d.capabilities for d in catalog.spec.deployments)
    }
    probes += [("capabilities", "capabilities", [c]) for c in sorted(capabilities)]
    thresholds = {e.confidence_below for e in spec.escalation if e.confidence_below is not None}
    if thresholds:
        probes += [("confidence", "confidence", v) for v in sorted({0.0, *thresholds})]
    return probes


def as_traffic(group: pa.Table) -> pa.Table:
    """The group's records as canonical traffic under the router's request defaults."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = group.num_rows
    time = pc.cast(group.column("time_unix_us"), pa.timestamp("us", tz="UTC"))
    zero = pa.scalar(0, pa.int64())
    return pa.table(
        {
            "time": time,
            "request_id": group.column("request_id"),
            "tenant": group.column("tenant"),
            "app": group.column("app"),
            "use_case": group.column("use_case"),
            "data_class": group.column("data_class"),
            "residency_class": group.column("residency_class"),
            "risk_class": pa.array(["low"] * n, pa.string()),
            "input_tokens": group.column("input_tokens"),
            "cached_input_tokens": pc.fill_null(group.column("cache_read_input_tokens"), zero),
            "output_tokens": group.column("output_tokens"),
            "reasoning_tokens": pc.fill_null(group.column("reasoning_output_tokens"), zero),
            "capabilities": pa.array([[]] * n, pa.list_(pa.string())),
            "complexity": pa.array([0.0] * n, pa.float64()),
            "confidence": pa.nulls(n, pa.float64()),
            "load": group.column("load"),
        }
    )


def routable_rows(group: pa.Table) -> tuple[pa.Array, int, int]:
    """Rows whose attributes are present and pass the traffic table's rules, and how many
    lack one (missing) or hold a value the traffic table refuses (invalid)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.policy.vocabulary import MAX_TOKENS
    from nexusctl.traffic.schema import DATA_CLASSES, IDENTIFIER_RE

    present = pa.array([True] * group.num_rows, pa.bool_())
    for name in NEEDED:
        present = pc.and_(present, pc.is_valid(group.column(name)))
    valid = present
    for name in ("tenant", "app", "use_case", "residency_class"):
        ok = pc.match_substring_regex(group.column(name), IDENTIFIER_RE)
        valid = pc.and_(valid, pc.fill_null(ok, False))
    valid = pc.and_(
        valid, pc.fill_null(pc.is_in(group.column("data_class"), pa.array(DATA_CLASSES)), False)
    )
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "reasoning_output_tokens",
    ):
        ok = pc.less_equal(pc.fill_null(group.column(name), 0), MAX_TOKENS)
        valid = pc.and_(valid, ok)
    cached = pc.fill_null(group.column("cache_read_input_tokens"), 0)
    valid = pc.and_(valid, pc.fill_null(pc.less_equal(cached, group.column("input_tokens")), False))
    missing = int(pc.sum(pc.invert(present)).as_py() or 0)
    invalid = int(pc.sum(pc.and_(present, pc.invert(valid))).as_py() or 0)
    return valid, missing, invalid


def _route(loaded: LoadedPolicy, traffic: pa.Table) -> pa.Table:
    import pyarrow as pa

    from nexusctl.replay import replay

    batches = list(replay(loaded, traffic, load_column="load"))
    decided = pa.Table.from_batches(batches) if batches else None
    columns = ("route_id", "outcome", "deployment_id")
    if decided is None:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return decided.select(columns)


def _offering(loaded: LoadedPolicy, capability: str) -> pa.Array:
    """Every name (id, model, price-table key) of a deployment that has ``capability``."""
    import pyarrow as pa

    from nexusctl.evidence.conformance_checks import deployment_names

    names: set[str] = set()
    for dep in loaded.catalog.catalog.spec.deployments:
        if capability in dep.capabilities:
            names |= deployment_names(dep)
    return pa.array(sorted(names), pa.string())


def decide(
    loaded: LoadedPolicy, traffic: pa.Table, served: pa.ChunkedArray
) -> tuple[pa.Table, pa.Array]:
    """Route under the defaults and every probe; return the base decisions and, per row,
    the first attribute whose probe changed the decision (null: determined).

    A capability counts only where the served deployment has it (or nothing was served): a
    request that needed it could not have been served by a deployment without it, and with
    it, the policy's own choice stays eligible and cheapest (requirements only remove
    candidates), unless the served one is a deployment the policy's choice is not.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    base = _route(loaded, traffic)
    labels: list[str] = []
    codes = np.full(traffic.num_rows, -1, dtype=np.int32)
    # Rows a probe already found undetermined are not routed again: each probe replays only
    # the rows still determined (the load column travels with them).
    pending = np.arange(traffic.num_rows, dtype=np.int64)
    for attribute, column, value in probes(loaded):
        if not len(pending):
            break
        rows = pa.array(pending)
        subset = traffic.take(rows)
        probe = subset.set_column(
            subset.schema.get_field_index(column),
            column,
            pa.array([value] * subset.num_rows, subset.schema.field(column).type),
        )
        other, before = _route(loaded, probe), base.take(rows)
        changed = pa.array([False] * subset.num_rows, pa.bool_())
        for name in before.column_names:
            same = pc.fill_null(pc.equal(before.column(name), other.column(name)), False)
            both_null = pc.and_(pc.is_null(before.column(name)), pc.is_null(other.column(name)))
            changed = pc.or_(changed, pc.invert(pc.or_(same, both_null)))
        if attribute == "capabilities":
            held = served.take(rows)
            offered = pc.fill_null(pc.is_in(held, _offering(loaded, value[0])), False)
            changed = pc.and_(changed, pc.or_(pc.is_null(held), offered))
        hit = np.asarray(changed.to_numpy(zero_copy_only=False), dtype=bool)
        if hit.any():
            label = f"depends-on-{attribute}"
            if label not in labels:
                labels.append(label)
            codes[pending[hit]] = labels.index(label)
            pending = pending[~hit]
    indices = pa.array(codes, mask=codes < 0)
    depends = pc.cast(
        pa.DictionaryArray.from_arrays(indices, pa.array(labels, pa.string())), pa.string()
    )
    return base, depends
