"""Run a simulation: load both policies, replay the traffic under each, diff, gate.

``simulate`` is the one entry point the CLI (and the bench) calls. It streams: the traffic is
read in bounded batches, each batch's decision pairs are folded into running aggregates (and
written to the ``--decisions`` Parquet when asked), so memory does not grow with the row count
and nothing is read twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
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
from nexusctl.simulate.aggregate import (
    FoldJob,
    TrafficFold,
    UrlTrafficFold,
    pair_schema,
    pairs_writer,
    read_columns,
)
from nexusctl.simulate.gates import SimulationGates, evaluate_gates, resolve_gates
from nexusctl.simulate.result import PolicyRef, SimulationResult, TrafficRef, Verdict

if TYPE_CHECKING:
    import pyarrow.parquet as pq

#: A URL names its scheme (``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``, ``file://``).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class SimulationRequest:
    """What to simulate. Paths are as the user gave them (shown in messages and the result).

    ``traffic`` is a local path, or a URL (``scheme://...``) that an engine reading through
    its own filesystem (a ``UrlTrafficFold``: ``--engine spark``) is given untouched.
    """

    baseline: Path
    candidate: Path
    traffic: Path | str
    decisions: Path | None = None
    gate_file: SimulationGates | None = None
    gate_flags: Sequence[str] = ()
    allow_empty: bool = False
    allow_catalog_change: bool = False
    #: The footer's row cap (``nexusctl.traffic.parquet.read_limits``); None: the default.
    max_rows: int | None = None

    @property
    def traffic_url(self) -> str | None:
        """``traffic`` when it is a URL (a string ``scheme://...``); None for a local path."""
        text = self.traffic if isinstance(self.traffic, str) else ""
        return text if _URL.match(text) else None


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
        UsageError: a malformed ``--gate`` flag; a traffic URL for an engine that reads
            local files only.
        EnvironmentError_: the ``fold`` engine cannot run (or cannot reach the URL).
    """
    remote = _remote(request.traffic_url, fold)
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
    # As given: a URL untouched, a path as pathlib shows it (``./t.parquet`` is ``t.parquet``).
    shown = remote[1] if remote else str(Path(request.traffic))
    _check_output(request.decisions, None if remote else Path(request.traffic))
    with contextlib.ExitStack() as opened:
        if remote is None:
            traffic_file, rows = _open_traffic(
                Path(request.traffic), request.allow_empty, request.max_rows
            )
        else:
            traffic_file, rows = _open_url(*remote, request.allow_empty, request.max_rows, opened)
        if on_start is not None:
            on_start(rows)
        reprice = candidate.catalog.catalog if changes else None
        with _pairs_path(request.decisions) as pairs:
            if fold is not None and traffic_file is not None:
                schema = traffic_file.schema_arrow
                columns = read_columns(schema.names)
                where = remote[1] if remote else Path(request.traffic)
                job = FoldJob(where, rows, columns, baseline, candidate, reprice, schema=schema)
                totals = _fold(fold, job, pairs, progress)
            else:
                totals = Accumulator(baseline, candidate)
                stream_pairs(
                    traffic_file,
                    Path(request.traffic),
                    baseline,
                    candidate,
                    engine or RouterReplay(),
                    reprice,
                    totals,
                    pairs,
                    progress,
                )
        decisions = totals.decisions()
        digest = (
            _sha256(Path(request.traffic)) if remote is None else remote[0].sha256_url(remote[1])
        )
        result = SimulationResult(
            baseline=_policy_ref(baseline, request.baseline),
            candidate=_policy_ref(candidate, request.candidate),
            traffic=TrafficRef(
                path=shown,
                rows=decisions.requests,
                sha256=digest,
                metadata=_traffic_metadata(traffic_file, shown),
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

        window = traffic_window(traffic_file)
    review = build_review(result, baseline.policy, candidate.policy, window)
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


def _remote(url: str | None, fold: TrafficFold | None) -> tuple[UrlTrafficFold, str] | None:
    """The engine that reads the traffic URL, and the URL (None: a local path).

    Raises:
        UsageError: a URL for an engine that reads local files only.
    """
    if url is None:
        return None
    if not isinstance(fold, UrlTrafficFold):
        raise UsageError(
            f"{url}: the {fold.name if fold else 'numpy'} engine reads local traffic files only",
            hint="add --engine spark to read the URL through Spark's own filesystem, or copy "
            "the file here",
        )
    return fold, url


def _fold(
    fold: TrafficFold, job: FoldJob, pairs: Path | None, progress: Callable[[int], None] | None
) -> Accumulator:
    """Run ``fold``; with ``pairs``, it hands every pair, in row order, to one writer."""
    if pairs is None or job.schema is None:
        return fold.fold(job, progress)
    writer = pairs_writer(pairs, pair_schema(job.schema))
    try:
        return fold.fold(dataclasses.replace(job, pairs=writer), progress)
    finally:
        writer.close()


def _check_output(out: Path | None, traffic: Path | None) -> None:
    if out is None:
        return
    if (
        out.exists()
        and traffic is not None
        and traffic.exists()
        and out.resolve() == traffic.resolve()
    ):
        raise UsageError("--decisions must not be the traffic file itself")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"{out}: is a directory, expected a Parquet file path")


def _open_traffic(
    path: Path, allow_empty: bool, max_rows: int | None
) -> tuple[pq.ParquetFile | None, int]:
    """Open the traffic with the shared reader: footer caps, then the table's type check.

    Its rows are checked batch by batch by the replay (``nexusctl.traffic.schema``'s rules).
    """
    from nexusctl.traffic.parquet import open_traffic_parquet, read_limits, require_regular_file

    try:
        require_regular_file(path, "traffic file")
    except TrafficError as exc:
        return _empty(exc, allow_empty)
    return _checked(open_traffic_parquet(path, read_limits(max_rows)), str(path), allow_empty)


def _open_url(
    fold: UrlTrafficFold,
    url: str,
    allow_empty: bool,
    max_rows: int | None,
    opened: contextlib.ExitStack,
) -> tuple[pq.ParquetFile | None, int]:
    """Open the traffic at ``url`` through the engine's filesystem (closed with ``opened``)."""
    from nexusctl.traffic.parquet import open_traffic_stream, read_limits

    try:
        stream = opened.enter_context(fold.open_url(url))
    except TrafficError as exc:
        return _empty(exc, allow_empty)
    return _checked(open_traffic_stream(stream, url, read_limits(max_rows)), url, allow_empty)


_EMPTY_HINT = "pass --allow-empty to accept traffic with no requests"


def _empty(exc: TrafficError, allow_empty: bool) -> tuple[None, int]:
    """No traffic for an empty file under ``allow_empty``; otherwise ``exc``, hinted."""
    if allow_empty and "empty" in str(exc):
        return None, 0
    raise TrafficError(str(exc), hint=_EMPTY_HINT if "empty" in str(exc) else exc.hint) from None


def _checked(
    traffic: pq.ParquetFile, shown: str, allow_empty: bool
) -> tuple[pq.ParquetFile | None, int]:
    check_traffic_schema(traffic.schema_arrow, shown)
    rows = traffic.metadata.num_rows
    if rows == 0 and not allow_empty:
        raise TrafficError(f"{shown}: traffic file holds no requests", hint=_EMPTY_HINT)
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


def _traffic_metadata(traffic: pq.ParquetFile | None, shown: str) -> dict[str, Any] | None:
    from nexusctl.traffic.parquet import file_metadata

    return None if traffic is None else file_metadata(traffic, shown)
