"""Conformance: every real decision a gateway recorded, routed again under its live policy.

For each real record (counterfactual ones are never read: they live in their own log):

1. its policy: an explicit ``--policy`` for all records, or the bundle live in its environment
   at its time (:mod:`nexusctl.evidence.policies`);
2. its request, rebuilt from the record (tenant, app, use case, data class, residency class,
   tokens) with the load of contract B computed over every real record of its environment
   (the gateway's arrivals), then routed again by the vectorised replay
   (``nexusctl.replay.replay``), one Arrow table per policy version, no Python loop per record;
3. a comparison with what the gateway recorded, column by column (:data:`DEVIATIONS`).

What a record does not carry is never guessed. DecisionRecord v1 holds no risk class, required
capabilities, complexity score or classifier confidence, so each group is routed once under
the router's defaults and once more per value the policy distinguishes for each of those
attributes (every complexity threshold and match bound, every risk class the policy names,
every capability it matches on or a deployment lacks, every confidence threshold), one
attribute at a time. A record whose route, outcome or deployment changes under any of them is
counted as not checkable (``depends-on-<attribute>``) for the decision checks; its residency
(which depends only on the region served and the residency class) is still checked. Records
without a policy, an environment or the attributes routing needs are counted by reason.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nexusctl.evidence.conformance_model import (
    DEVIATIONS,
    ConformanceReport,
    DeviationCount,
    DeviationExample,
    PolicyGroup,
)
from nexusctl.evidence.policies import PolicyVersion, RegistryTimeline

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy

#: Examples kept per deviation kind.
EXAMPLES = 5
#: Record columns conformance reads (view names).
FIELDS = (
    "request_id",
    "time_unix_us",
    "environment",
    "policy_name",
    "policy_version",
    "policy_digest",
    "tenant",
    "app",
    "use_case",
    "data_class",
    "residency_class",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "reasoning_output_tokens",
    "outcome",
    "route_id",
    "deployment_id",
    "region",
    "cost_pusd",
)
#: Attributes routing needs that a record may leave null.
NEEDED = ("app", "use_case", "data_class", "residency_class", "input_tokens", "output_tokens")
_SELECT = (
    "SELECT {fields}, ({where}) AS selected FROM decisions "
    "ORDER BY environment NULLS FIRST, time_unix_us, request_id"
)


@dataclass(frozen=True)
class PolicySelection:
    """Where policies come from: one explicit policy, or a registry's timeline."""

    explicit: tuple[PolicyVersion, LoadedPolicy] | None = None
    registry: RegistryTimeline | None = None
    #: Environment of records that name none (e.g. a LiteLLM log from one gateway).
    default_environment: str | None = None


@dataclass
class _Tally:
    """Counts and examples folded group by group."""

    records: int = 0
    unchecked: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[DeviationExample]] = field(default_factory=dict)
    deviating: int = 0
    decision_checked: int = 0
    groups: list[PolicyGroup] = field(default_factory=list)


def check_conformance(
    root: Path,
    selection: PolicySelection,
    where: str = "TRUE",
    params: dict[str, Any] | None = None,
) -> ConformanceReport:
    """Route every selected real record again and report each deviation.

    ``where`` is a SQL condition over the ``decisions`` view (with ``params``) choosing the
    records checked; load is computed over all real records of each environment regardless.

    Raises:
        InputError: not an evidence store, or not a registry.
        VerificationError: a stored checkpoint or bundle does not verify.
        PolicyLoadError: a policy does not load.
    """
    import pyarrow.compute as pc

    from nexusctl.evidence.query import open_store

    con = open_store(root)
    try:
        # ``where`` is built by ReportFilter.where from fixed column names; values are bound
        # as parameters, never formatted in.
        sql = _SELECT.format(fields=", ".join(FIELDS), where=where)
        table = con.sql(sql, params=params or None).to_arrow_table()
    finally:
        con.close()
    table = _with_defaults(table, selection.default_environment)
    table = table.append_column("load", _loads(table))
    table = table.filter(pc.fill_null(table.column("selected"), False))
    tally = _Tally(records=table.num_rows)
    versions, assigned = _assign(table, selection, tally)
    for index, (version, loaded) in enumerate(versions):
        group = table.filter(pc.equal(assigned, index))
        if group.num_rows:
            _check_group(group, version, loaded, selection.registry is not None, tally)
    return _report(tally, selection)


def _with_defaults(table: pa.Table, environment: str | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    if environment is None:
        return table
    column = pc.fill_null(table.column("environment"), pa.scalar(environment, pa.string()))
    return table.set_column(table.schema.get_field_index("environment"), "environment", column)


def _loads(table: pa.Table) -> pa.Array:
    """Contract B's load of every record, over the real records of its environment."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.replay import arrivals_load

    times = np.asarray(table.column("time_unix_us").to_numpy(), dtype=np.int64) // 1000
    envs = pc.fill_null(table.column("environment"), "").combine_chunks()
    loads = np.ones(table.num_rows, dtype=np.int64)
    codes = pc.dictionary_encode(envs).indices.to_numpy(zero_copy_only=False)
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        loads[rows] = arrivals_load(times[rows])
    return pa.array(loads, pa.int64())


def _assign(
    table: pa.Table, selection: PolicySelection, tally: _Tally
) -> tuple[list[tuple[PolicyVersion, LoadedPolicy]], pa.Array]:
    """Return the policy versions used and, per record, the index of its own (-1: none)."""
    import numpy as np
    import pyarrow as pa

    n = table.num_rows
    if selection.explicit is not None:
        return [selection.explicit], pa.array(np.zeros(n, dtype=np.int64))
    timeline = selection.registry
    assert timeline is not None  # one of the two is always given (the CLI requires it)
    index = np.full(n, -1, dtype=np.int64)
    times = np.asarray(table.column("time_unix_us").to_numpy(), dtype=np.int64)
    versions: list[tuple[PolicyVersion, LoadedPolicy]] = []
    by_key: dict[tuple[str, str], int] = {}
    for (env, name), rows in _pairs(table):
        if env is None:
            tally.unchecked["no-environment"] += len(rows)
            continue
        if name is None:
            live_names = timeline.names_in(env)
            if len(live_names) != 1:
                reason = "ambiguous-policy" if live_names else "no-policy-live"
                tally.unchecked[reason] += len(rows)
                continue
            name = live_names[0]
        spans = timeline.spans.get((env, name), [])
        since = np.asarray([s.since_us for s in spans], dtype=np.int64)
        at = np.searchsorted(since, times[rows], side="right") - 1
        tally.unchecked["no-policy-live"] += int((at < 0).sum())
        for span_index in np.unique(at[at >= 0]):
            span = spans[int(span_index)]
            key = (env, span.digest)
            if key not in by_key:
                by_key[key] = len(versions)
                version = PolicyVersion(span.name, span.version, span.digest, "registry", env)
                versions.append((version, timeline.loaded(span.digest)))
            index[rows[at == span_index]] = by_key[key]
    return versions, pa.array(index)


def _pairs(table: pa.Table) -> list[tuple[tuple[str | None, str | None], np.ndarray]]:
    """Rows by distinct (environment, policy name): the pairs are few, the rows are not."""
    import numpy as np
    import pyarrow as pa

    keyed = pa.table(
        {
            "environment": table.column("environment"),
            "policy_name": table.column("policy_name"),
            "row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
        }
    )
    groups = keyed.group_by(["environment", "policy_name"]).aggregate([("row", "list")])
    out = []
    for env, name, rows in zip(
        groups.column("environment").to_pylist(),
        groups.column("policy_name").to_pylist(),
        groups.column("row_list").to_numpy(zero_copy_only=False),
        strict=True,
    ):
        out.append(((env, name), np.asarray(rows, dtype=np.int64)))
    return sorted(out, key=lambda item: (str(item[0][0]), str(item[0][1])))


def _probes(loaded: LoadedPolicy) -> list[tuple[str, str, Any]]:
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


def _traffic(group: pa.Table) -> pa.Table:
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


def _routable(group: pa.Table, tally: _Tally) -> pa.Array:
    """Rows whose attributes are present and pass the traffic table's rules."""
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
    tally.unchecked["missing-attributes"] += missing
    tally.unchecked["invalid-attributes"] += invalid
    return valid


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


def _decide(
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
    for attribute, column, value in _probes(loaded):
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


def _check_group(
    group: pa.Table, version: PolicyVersion, loaded: LoadedPolicy, registry: bool, tally: _Tally
) -> None:
    import pyarrow.compute as pc

    from nexusctl.evidence.conformance_checks import compare

    routable = _routable(group, tally)
    rows = group.filter(routable)
    base, depends = _decide(loaded, _traffic(rows), rows.column("deployment_id"))
    for reason, count in Counter(depends.to_pylist()).items():
        if reason is not None:
            tally.unchecked[reason] += count
    determined = pc.is_null(depends)
    outcome = compare(group, routable, base, determined, version, loaded, registry)
    tally.decision_checked += outcome.decision_checked
    tally.deviating += outcome.deviating
    for kind, count in outcome.counts.items():
        tally.counts[kind] += count
    for kind, count in outcome.checked.items():
        tally.checked[kind] += count
    for kind, examples in outcome.examples.items():
        kept = tally.examples.setdefault(kind, [])
        kept += examples[: EXAMPLES - len(kept)]
    tally.groups.append(
        PolicyGroup(
            environment=version.environment,
            policy=version.name,
            version=version.version,
            digest=version.digest,
            source=version.source,
            records=group.num_rows,
            decision_checked=outcome.decision_checked,
            deviating=outcome.deviating,
        )
    )


def _report(tally: _Tally, selection: PolicySelection) -> ConformanceReport:
    deviations = []
    for kind in DEVIATIONS:
        checked = tally.checked.get(kind, 0)
        count = tally.counts.get(kind, 0)
        deviations.append(
            DeviationCount(
                kind=kind,
                description=DEVIATIONS[kind],
                count=count,
                checked=checked,
                rate_pct=round(100.0 * count / checked, 4) if checked else 0.0,
                examples=tally.examples.get(kind, []),
            )
        )
    return ConformanceReport(
        policy_source="registry" if selection.registry is not None else "explicit",
        records=tally.records,
        decision_checked=tally.decision_checked,
        deviating_records=tally.deviating,
        not_checkable={k: v for k, v in sorted(tally.unchecked.items()) if v},
        deviations=deviations,
        policies=tally.groups,
    )


def policy_selection(
    registry: Path | None, policy: Path | None, default_environment: str | None = None
) -> PolicySelection | None:
    """Build the policy source from ``--registry`` or ``--policy`` (None: neither given).

    Raises:
        UsageError: both given.
        InputError, VerificationError, PolicyLoadError: as their loaders.
    """
    from nexusctl.errors import UsageError
    from nexusctl.evidence.policies import load_policy_path

    if registry is not None and policy is not None:
        raise UsageError("--registry and --policy cannot go together: choose one policy source")
    if registry is not None:
        return PolicySelection(
            registry=RegistryTimeline.open(registry), default_environment=default_environment
        )
    if policy is not None:
        return PolicySelection(
            explicit=load_policy_path(policy), default_environment=default_environment
        )
    return None


def require_conformance(report: ConformanceReport) -> None:
    """The CI gate of ``--fail-on-deviation``.

    Raises:
        GateFailed: a record deviates from its policy.
    """
    from nexusctl.errors import GateFailed

    if report.deviating_records:
        kinds = ", ".join(f"{d.kind} {d.count}" for d in report.deviations if d.count)
        raise GateFailed(
            f"conformance: {report.deviating_records} record(s) deviate from the signed "
            f"policy ({kinds})"
        )
