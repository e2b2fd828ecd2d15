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
from nexusctl.evidence.conformance_replay import as_traffic, decide, routable_rows
from nexusctl.evidence.policies import PolicyVersion, RegistryTimeline

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy

#: Examples kept per deviation kind.
EXAMPLES = 5
#: Records routed at once (with every probe): bounds the replay's working memory.
CHUNK_ROWS = 131_072
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
    table = _only(table, pc.fill_null(table.column("selected"), False))
    tally = _Tally(records=table.num_rows)
    versions, assigned = _assign(table, selection, tally)
    for index, (version, loaded) in enumerate(versions):
        group = _only(table, pc.equal(assigned, index))
        if group.num_rows:
            _check_group(group, version, loaded, selection.registry is not None, tally)
    return _report(tally, selection)


def _only(table: pa.Table, mask: pa.Array) -> pa.Table:
    """``table.filter(mask)``, without the copy when every row is kept (the common case)."""
    import pyarrow.compute as pc

    return table if pc.all(mask).as_py() is not False else table.filter(mask)


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


def _check_group(
    group: pa.Table, version: PolicyVersion, loaded: LoadedPolicy, registry: bool, tally: _Tally
) -> None:
    """Check one policy group, CHUNK_ROWS records at a time (the load column travels with the
    rows, so chunks are independent and memory stays bounded by the chunk)."""
    import pyarrow.compute as pc

    from nexusctl.evidence.conformance_checks import compare

    checked = deviating = 0
    for start in range(0, group.num_rows, CHUNK_ROWS):
        chunk = group.slice(start, CHUNK_ROWS)
        routable, missing, invalid = routable_rows(chunk)
        tally.unchecked["missing-attributes"] += missing
        tally.unchecked["invalid-attributes"] += invalid
        rows = chunk.filter(routable)
        base, depends = decide(loaded, as_traffic(rows), rows.column("deployment_id"))
        for item in pc.value_counts(depends).to_pylist():
            if item["values"] is not None:
                tally.unchecked[item["values"]] += item["counts"]
        determined = pc.is_null(depends)
        outcome = compare(chunk, routable, base, determined, version, loaded, registry)
        checked += outcome.decision_checked
        deviating += outcome.deviating
        for kind, count in outcome.counts.items():
            tally.counts[kind] += count
        for kind, count in outcome.checked.items():
            tally.checked[kind] += count
        for kind, examples in outcome.examples.items():
            kept = tally.examples.setdefault(kind, [])
            kept += examples[: EXAMPLES - len(kept)]
    tally.decision_checked += checked
    tally.deviating += deviating
    tally.groups.append(
        PolicyGroup(
            environment=version.environment,
            policy=version.name,
            version=version.version,
            digest=version.digest,
            source=version.source,
            records=group.num_rows,
            decision_checked=checked,
            deviating=deviating,
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
