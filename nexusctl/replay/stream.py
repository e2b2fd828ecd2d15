"""Streaming replay over Arrow record batches, and repricing under another catalog."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from nexusctl.decode.factors import decode_factors
from nexusctl.errors import TrafficError
from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.replay.load import WINDOW_MS, arrivals_load
from nexusctl.router.plan import PlanSource, plan_for
from nexusctl.traffic.schema import TOKEN_COLUMNS, require_valid

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: Rows per decision batch: bounds memory (measured ~330 B of NumPy working state per row
#: plus the Arrow buffers, so a 65,536-row batch works in ~35 MB).
DEFAULT_BATCH_ROWS = 65_536

_TO_MS = {"s": (1000, 1), "ms": (1, 1), "us": (1, 1000), "ns": (1, 1_000_000)}


def times_ms(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return arrival times as int64 milliseconds since the epoch (floor for finer units).

    Raises:
        TrafficError: the column is not a timestamp or integer column, or has nulls.
    """
    import numpy as np
    import pyarrow as pa

    if column.null_count:
        raise TrafficError("traffic column 'time' has null values")
    kind = column.type
    if pa.types.is_timestamp(kind):
        mul, div = _TO_MS[kind.unit]
        raw = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
        if mul == div == 1:
            return np.asarray(raw, dtype=np.int64)
        return np.asarray(np.floor_divide(raw * mul, div), dtype=np.int64)
    if pa.types.is_integer(kind):
        return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), np.int64)
    raise TrafficError(f"traffic column 'time' must be a timestamp, got {kind}")


def replay(
    loaded: LoadedPolicy | PlanSource,
    traffic: pa.Table | Iterable[pa.RecordBatch],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    load_column: str | None = None,
    dictionary: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Route every request of ``traffic`` under the policy; yield decision batches in order.

    A Table's load is computed over its whole time column (any order). An iterable of
    batches is streamed in bounded memory; its times must not decrease (rows that share the
    last timestamp of a batch wait for the next one, so ties all count). With ``load_column``
    the load is read from that column instead (e.g. computed upstream by the portable SQL
    window in docs/replay.md, so partitions of a distributed engine can be replayed
    independently); rows are then numbered from 0 per call. With ``dictionary`` the string
    columns other than ``request_id`` come dictionary-encoded (same values; see
    ``dictionary_decision_schema``).

    Every batch is checked first against the traffic table's rules (the importer's:
    ``nexusctl.traffic.schema.require_valid``), so a hand-written file with a token count
    of 2^63 - 1 or a time before 1970 is refused, never routed.

    Raises:
        TrafficError: missing columns, invalid rows (with 1-based row numbers), or
            decreasing times in a stream.
    """
    import pyarrow as pa

    from nexusctl.replay._decide import decide_batch
    from nexusctl.replay._engine import read_columns

    plan = plan_for(loaded)
    offset = 0
    if load_column is not None:
        source = traffic.to_batches(batch_rows) if isinstance(traffic, pa.Table) else traffic
        for batch in source:
            for start in range(0, batch.num_rows, batch_rows):
                part = batch.slice(start, batch_rows)
                require_valid(part, offset)
                load = _given_loads(part, load_column, offset)
                yield decide_batch(plan, read_columns(part, load, offset), offset, dictionary)
                offset += part.num_rows
        return
    if isinstance(traffic, pa.Table):
        if "time" not in traffic.schema.names:
            raise TrafficError("traffic lacks column(s): time")
        batches = traffic.to_batches(max_chunksize=batch_rows)
        start = 0
        for batch in batches:
            require_valid(batch, start)
            start += batch.num_rows
        loads = arrivals_load(times_ms(traffic.column("time")))
        for batch in batches:
            load = loads[offset : offset + batch.num_rows]
            yield decide_batch(plan, read_columns(batch, load, offset), offset, dictionary)
            offset += batch.num_rows
        return
    for batch, load in _stream_loads(traffic, batch_rows):
        yield decide_batch(plan, read_columns(batch, load, offset), offset, dictionary)
        offset += batch.num_rows


def replay_many(
    policies: Sequence[LoadedPolicy | PlanSource],
    traffic: pa.Table | Iterable[pa.RecordBatch],
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    dictionary: bool = False,
) -> Iterator[tuple[pa.RecordBatch, list[pa.RecordBatch]]]:
    """Route a time-ordered stream (or Table) under several policies; read each batch once.

    Yields ``(traffic slice, [decisions under each policy])`` in order: the same decisions
    ``replay`` yields per policy, but the load, the checks and the column extraction are
    shared, and the policies after the first are decided in worker threads (NumPy and Arrow
    release the GIL in their kernels).

    Raises:
        TrafficError: as ``replay`` for a stream.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    from nexusctl.replay._decide import decide_batch
    from nexusctl.replay._engine import read_columns

    if isinstance(traffic, pa.Table):  # streamed like batches: its times must not decrease
        traffic = traffic.to_batches(max_chunksize=batch_rows)
    plans = [plan_for(p) for p in policies]
    offset = 0
    with ThreadPoolExecutor(max(1, len(plans) - 1), "nexusctl-decide") as pool:
        for batch, load in _stream_loads(traffic, batch_rows):
            cols = read_columns(batch, load, offset)
            others = [
                pool.submit(decide_batch, plan, cols, offset, dictionary) for plan in plans[1:]
            ]
            first = [decide_batch(plans[0], cols, offset, dictionary)] if plans else []
            yield batch, first + [future.result() for future in others]
            offset += batch.num_rows


def _given_loads(batch: pa.RecordBatch, name: str, offset: int) -> np.ndarray:
    """Read and check a precomputed load column (integers >= 1, no nulls)."""
    import numpy as np

    if name not in batch.schema.names:
        raise TrafficError(f"traffic lacks the load column '{name}'")
    column = batch.column(name)
    if column.null_count:
        raise TrafficError(f"traffic load column '{name}' has null values")
    loads = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
    if (loads < 1).any():
        first = int(np.flatnonzero(loads < 1)[0])
        raise TrafficError(f"traffic row {offset + first + 1} (1-based): load must be >= 1")
    return loads


def _stream_loads(
    batches: Iterable[pa.RecordBatch], batch_rows: int
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Yield (batch, load) with loads exact across batch boundaries (time-ordered input).

    A batch is held back until a strictly later time has been seen (or the input ends), so
    requests that share its last timestamp in the next batches all count; only the int64
    times are joined, never the batches themselves.
    """
    import numpy as np

    window = np.zeros(0, dtype=np.int64)  # emitted times within the last WINDOW_MS
    pending: deque[tuple[pa.RecordBatch, np.ndarray]] = deque()
    last: int | None = None
    seen = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if "time" not in batch.schema.names:
            raise TrafficError("traffic lacks column(s): time")
        require_valid(batch, seen)
        times = times_ms(batch.column("time"))
        steps = np.diff(times)
        if (steps < 0).any() or (last is not None and times[0] < last):
            bad = int(np.flatnonzero(steps < 0)[0]) + 1 if (steps < 0).any() else 0
            raise TrafficError(
                f"traffic row {seen + bad + 1} (1-based) goes back in time; a streamed replay "
                "needs rows ordered by time (sort it, or pass a Table)"
            )
        seen += batch.num_rows
        last = int(times[-1])
        pending.append((batch, times))
        if int(pending[0][1][-1]) < last:
            window = yield from _emit_pending(pending, window, batch_rows, last)
    if pending:
        yield from _emit_pending(pending, window, batch_rows, None)


def _emit_pending(
    pending: deque[tuple[pa.RecordBatch, np.ndarray]],
    window: np.ndarray,
    batch_rows: int,
    newest: int | None,
) -> Generator[tuple[pa.RecordBatch, np.ndarray], None, np.ndarray]:
    """Emit the held batches whose last time is before ``newest`` (all when None).

    Returns the new window of emitted times.
    """
    import numpy as np

    known = np.concatenate([window, *(times for _, times in pending)])
    first = len(window)
    while pending and (newest is None or int(pending[0][1][-1]) < newest):
        batch, times = pending.popleft()
        upto = np.searchsorted(known, times, side="right")
        before = np.searchsorted(known, times - WINDOW_MS, side="right")
        loads = (upto - before).astype(np.int64)
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows), loads[start : start + batch_rows]
        first += len(times)
    emitted = known[:first]
    keep = np.searchsorted(emitted, emitted[-1] - WINDOW_MS, side="right") if first else 0
    return emitted[keep:].copy()


def reprice(
    decisions: pa.RecordBatch | pa.Table,
    traffic: pa.RecordBatch | pa.Table,
    catalog: ModelCatalog,
) -> pa.Array:
    """Price each decision's deployment, draft length and load under ``catalog``.

    Returns an int64 array of pico-USD aligned with ``decisions``: null where no deployment
    was chosen, where ``catalog`` lacks the deployment or its pricing, or where it does not
    offer the decision's draft length on a GPU-time deployment (per-token prices do not
    depend on the draft length).

    Raises:
        TrafficError: the two inputs differ in length or lack a column, or a cost could
            leave the 64-bit range.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.replay._engine import check_int64, token_maxima

    has_rows = "row" in decisions.schema.names
    if decisions.num_rows != traffic.num_rows:
        raise TrafficError(
            f"decisions ({decisions.num_rows} rows) and traffic ({traffic.num_rows}) differ"
        )
    for name in TOKEN_COLUMNS:
        if name not in traffic.schema.names:
            raise TrafficError(f"traffic lacks column(s): {name}")

    def ints(table: pa.RecordBatch | pa.Table, name: str) -> np.ndarray:
        column = table.column(name)
        return np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False), np.int64)

    n = decisions.num_rows
    inp = ints(traffic, "input_tokens")
    cached = ints(traffic, "cached_input_tokens")
    out = ints(traffic, "output_tokens")
    reasoning = ints(traffic, "reasoning_tokens")
    gamma = ints(decisions, "draft_tokens")
    load = np.maximum(ints(decisions, "load"), 1)
    dep_col = decisions.column("deployment_id")
    token_max = token_maxima(inp, out, reasoning)
    first_row = int(decisions.column("row")[0].as_py()) if n and has_rows else 0
    result = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    for dep in sorted(catalog.spec.deployments, key=lambda d: d.id):
        rows = pc.fill_null(pc.equal(dep_col, dep.id), False).to_numpy(zero_copy_only=False)
        if not rows.any():
            continue
        f = decode_factors(dep)
        picked = np.flatnonzero(rows)
        check_int64(f, token_max, (inp[picked], out[picked], reasoning[picked]), picked, first_row)
        if f.pricing_kind == "per_token":
            result[rows] = (
                (inp[rows] - cached[rows]) * f.price_input
                + cached[rows] * f.price_cached_input
                + out[rows] * f.price_output
                + reasoning[rows] * f.price_reasoning
            )
            valid |= rows
        elif f.pricing_kind == "gpu_time":
            rows &= gamma <= f.max_draft_tokens
            max_loads = np.array([p.max_load for p in f.points], dtype=np.int64)
            point = np.minimum(np.searchsorted(max_loads, load[rows]), len(max_loads) - 1)
            base = np.array([p.ttft_base_us for p in f.points], dtype=np.int64)[point]
            per_1k = np.array([p.ttft_per_1k_input_us for p in f.points], dtype=np.int64)
            ttft = base + (per_1k[point] * inp[rows]) // 1000
            gpu_tpot = np.array([p.gpu_tpot_ns for p in f.points], dtype=np.int64)
            busy = ttft + ((out[rows] + reasoning[rows]) * gpu_tpot[point, gamma[rows]]) // 1000
            result[rows] = (f.gpu_rate * busy) // (3600 * max_loads[point])
            valid |= rows
    return pa.array(result, mask=~valid, type=pa.int64())
