"""Run a simulation: load both policies, replay the traffic under each, diff, gate.

``simulate`` is the one entry point the CLI (and the bench) calls. It streams: the traffic is
read in bounded batches, each batch's decision pairs are folded into running aggregates (and
written to the ``--decisions`` Parquet when asked), so memory does not grow with the row count
and nothing is read twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError, TrafficError, UsageError
from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.loader import LoadedPolicy, load_policy
from nexusctl.replay.engine import ReplayEngine, RouterReplay
from nexusctl.simulate._accumulate import Accumulator
from nexusctl.simulate._pairs import check_traffic_schema, stream_pairs
from nexusctl.simulate.aggregate import FoldJob, TrafficFold, read_columns
from nexusctl.simulate.gates import SimulationGates, evaluate_gates, resolve_gates
from nexusctl.simulate.result import PolicyRef, SimulationResult, TrafficRef, Verdict

if TYPE_CHECKING:
    import pyarrow.parquet as pq


@dataclass(frozen=True)
class SimulationRequest:
    """What to simulate. Paths are as the user gave them (shown in messages and the result)."""

    baseline: Path
    candidate: Path
    traffic: Path
    decisions: Path | None = None
    gate_file: SimulationGates | None = None
    gate_flags: Sequence[str] = ()
    allow_empty: bool = False
    allow_catalog_change: bool = False


def simulate(
    request: SimulationRequest,
    *,
    engine: ReplayEngine | None = None,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    fold: TrafficFold | None = None,
) -> SimulationResult:
    """Replay ``request.traffic`` under both policies and return the diff with its verdict.

    ``on_start(total_rows)`` is called once the traffic is opened; ``progress(rows_done)``
    after each batch. A failed gate is reported in ``result.verdict``, not raised. With
    ``fold`` (e.g. the Spark engine, ``nexusctl.spark``) that engine replays and aggregates
    the traffic instead of this process's streamed pass; everything else is shared.

    Raises:
        PolicyLoadError: either policy (or its catalog) does not load.
        InputError: the catalogs differ without ``allow_catalog_change``; bad output path.
        TrafficError: the traffic file is unreadable, malformed, or empty without
            ``allow_empty``.
        UsageError: a malformed ``--gate`` flag; ``decisions`` with a ``fold``.
        EnvironmentError_: the ``fold`` engine cannot run.
    """
    if fold is not None and request.decisions is not None:
        raise UsageError(
            f"--decisions is written by the numpy engine only, not by --engine {fold.name}"
        )
    baseline = load_policy(request.baseline)
    candidate = load_policy(request.candidate)
    settings = resolve_gates(
        request.gate_file,
        request.gate_flags,
        candidate.policy.spec.limits.frontier_share_max_pct,
    )
    changes = catalog_changes(baseline.catalog.catalog, candidate.catalog.catalog)
    if changes and not request.allow_catalog_change:
        shown = "; ".join(changes[:5]) + ("; ..." if len(changes) > 5 else "")
        raise InputError(
            f"the candidate's catalog differs from the baseline's: {shown}",
            hint="pass --allow-catalog-change to simulate it; the spend change is then split "
            "into a price effect and a routing effect",
        )
    _check_output(request)
    traffic_file, rows = _open_traffic(request.traffic, request.allow_empty)
    if on_start is not None:
        on_start(rows)
    reprice = candidate.catalog.catalog if changes else None
    if fold is not None and traffic_file is not None:
        columns = read_columns(traffic_file.schema_arrow.names)
        job = FoldJob(request.traffic, rows, columns, baseline, candidate, reprice)
        totals = fold.fold(job, progress)
    else:
        totals = Accumulator(baseline, candidate)
        with _pairs_path(request.decisions) as pairs:
            stream_pairs(
                traffic_file,
                request.traffic,
                baseline,
                candidate,
                engine or RouterReplay(),
                reprice,
                totals,
                pairs,
                progress,
            )
    decisions = totals.decisions()
    result = SimulationResult(
        baseline=_policy_ref(baseline, request.baseline),
        candidate=_policy_ref(candidate, request.candidate),
        traffic=TrafficRef(
            path=str(request.traffic),
            rows=decisions.requests,
            sha256=_sha256(request.traffic),
            metadata=_traffic_metadata(traffic_file, request.traffic),
        ),
        catalog_changed=bool(changes),
        catalog_changes=changes,
        decisions=decisions,
        spend=totals.spend_result(),
        latency=totals.latency(),
        residency=totals.residency(),
        frontier=totals.frontier(),
        outcomes=totals.outcomes(),
        quality=totals.quality_result(),
        verdict=Verdict(passed=True, gates=[]),
        engine=fold.name if fold is not None else "numpy",
    )
    from nexusctl.simulate.review import build_review, traffic_window

    review = build_review(result, baseline.policy, candidate.policy, traffic_window(traffic_file))
    return result.model_copy(update={"verdict": evaluate_gates(result, settings), "review": review})


def catalog_changes(baseline: ModelCatalog, candidate: ModelCatalog) -> list[str]:
    """List how the candidate catalog's deployments differ from the baseline's (sorted)."""
    before = {d.id: d for d in baseline.spec.deployments}
    after = {d.id: d for d in candidate.spec.deployments}
    changes = [f"added {i}" for i in sorted(after.keys() - before.keys())]
    changes += [f"removed {i}" for i in sorted(before.keys() - after.keys())]
    for dep_id in sorted(before.keys() & after.keys()):
        old, new = before[dep_id], after[dep_id]
        fields = []
        old_price = old.pricing.model_dump(exclude={"source"}) if old.pricing else None
        new_price = new.pricing.model_dump(exclude={"source"}) if new.pricing else None
        if old_price != new_price:
            fields.append("prices")
        for name in type(old).model_fields:
            if name != "pricing" and getattr(old, name) != getattr(new, name):
                fields.append(name)
        if fields:
            changes.append(f"changed {dep_id} ({', '.join(fields)})")
    return changes


def _check_output(request: SimulationRequest) -> None:
    out = request.decisions
    if out is None:
        return
    if out.exists() and request.traffic.exists() and out.resolve() == request.traffic.resolve():
        raise UsageError("--decisions must not be the traffic file itself")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"{out}: is a directory, expected a Parquet file path")


def _open_traffic(path: Path, allow_empty: bool) -> tuple[pq.ParquetFile | None, int]:
    """Open the traffic with the shared reader: footer caps, then the table's type check.

    Its rows are checked batch by batch by the replay (``nexusctl.traffic.schema``'s rules).
    """
    from nexusctl.traffic.parquet import open_traffic_parquet, require_regular_file

    hint = "pass --allow-empty to accept traffic with no requests"
    try:
        require_regular_file(path, "traffic file")
    except TrafficError as exc:
        if allow_empty and "empty" in str(exc):
            return None, 0
        raise TrafficError(str(exc), hint=hint if "empty" in str(exc) else None) from None
    traffic = open_traffic_parquet(path)
    check_traffic_schema(traffic.schema_arrow, str(path))
    rows = traffic.metadata.num_rows
    if rows == 0 and not allow_empty:
        raise TrafficError(f"{path}: traffic file holds no requests", hint=hint)
    return traffic, rows


@contextlib.contextmanager
def _pairs_path(decisions: Path | None) -> Iterator[Path | None]:
    """Yield where to write the pairs (None: nowhere); publish atomically on success."""
    if decisions is None:
        yield None
        return
    partial = decisions.parent / f".{decisions.name}.{secrets.token_hex(8)}.partial"
    # O_EXCL: never follow or clobber an existing file; mode 0o666 lets the umask decide.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield partial
        os.replace(partial, decisions)
    finally:
        partial.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _policy_ref(loaded: LoadedPolicy, shown: Path) -> PolicyRef:
    meta = loaded.policy.metadata
    return PolicyRef(
        name=meta.name,
        version=meta.version,
        path=str(shown),
        sha256=_sha256(loaded.path),
        catalog_sha256=_sha256(loaded.catalog.path),
    )


def _traffic_metadata(traffic: pq.ParquetFile | None, shown: Path) -> dict[str, Any] | None:
    from nexusctl.traffic.parquet import file_metadata

    return None if traffic is None else file_metadata(traffic, str(shown))
