"""Stream plumbing for paired replays: fan one stream out, align re-batched streams, prefetch.

``pair_by_fan_out`` gives any engine that replays one policy at a time its ``replay_pair``
(the ``ReplayEngine`` method simulate calls): the traffic is handed to both replays and to
the consumer, the candidate replay runs in a worker thread, and the three streams are cut
into aligned row ranges (an engine may re-batch). ``in_thread`` runs a stream ahead of its
consumer in a worker thread, at most a few items ahead.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.policy.loader import LoadedPolicy
    from nexusctl.replay import Batch, ReplayEngine


def pair_by_fan_out(
    engine: ReplayEngine,
    baseline: LoadedPolicy,
    candidate: LoadedPolicy,
    traffic: Iterable[pa.RecordBatch],
) -> Iterator[tuple[Batch, Batch, Batch]]:
    """Yield aligned (traffic, baseline, candidate) row ranges from ``engine.replay``.

    NumPy and Arrow release the GIL in their kernels, so the candidate replay (in a worker
    thread) overlaps the baseline's on a second core.
    """
    feed_pairs, feed_base, feed_cand = _fan_out(iter(traffic), 3)
    streams = (
        feed_pairs,
        engine.replay(baseline, feed_base),
        in_thread(engine.replay(candidate, feed_cand)),
    )
    yield from _aligned(streams)


class _FanOut:
    """Hand every item of one iterator to ``n`` consumers, keeping only what some still need.

    ``itertools.tee`` frees its buffer in blocks of 57 items, so three lock-step consumers of
    65,536-row batches would keep millions of rows alive; this drops an item as soon as the
    slowest consumer has taken it.
    """

    _END = object()

    def __init__(self, source: Iterator[Any], n: int) -> None:
        self._lock = threading.Lock()
        self._source = source
        self._buffer: deque[Any] = deque()
        self._first = 0  # index of self._buffer[0] in the source
        self._positions = [0] * n

    def _next(self, consumer: int) -> Any:
        with self._lock:
            return self._next_locked(consumer)

    def _next_locked(self, consumer: int) -> Any:
        position = self._positions[consumer]
        if position - self._first == len(self._buffer):
            self._buffer.append(next(self._source, self._END))
        item = self._buffer[position - self._first]
        if item is self._END:
            return item
        self._positions[consumer] = position + 1
        while self._buffer and min(self._positions) > self._first:
            self._buffer.popleft()
            self._first += 1
        return item

    def consumer(self, index: int) -> Iterator[Any]:
        while (item := self._next(index)) is not self._END:
            yield item


def in_thread(stream: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Iterate ``stream`` in a worker thread, at most ``depth`` items ahead of the consumer.

    The worker's exception is re-raised in the consumer; a consumer that stops early (an
    error elsewhere) makes the worker stop at its next item.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in stream:
                while not stop.is_set():
                    try:
                        items.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put(("error", exc))

    worker = threading.Thread(target=work, name="nexusctl-replay", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        while worker.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)


def _fan_out(source: Iterator[Any], n: int) -> tuple[Iterator[Any], ...]:
    fan = _FanOut(source, n)
    return tuple(fan.consumer(i) for i in range(n))


class _Buffer:
    """Record batches from one stream, handed out by row count across batch boundaries."""

    def __init__(self, stream: Iterator[Any]) -> None:
        self._stream = stream
        self._pending: deque[pa.RecordBatch] = deque()
        self.available = 0
        self.exhausted = False

    def fill(self) -> None:
        while self.available == 0 and not self.exhausted:
            batch = next(self._stream, None)
            if batch is None:
                self.exhausted = True
            elif batch.num_rows:
                self._pending.append(batch)
                self.available += batch.num_rows

    def take(self, n: int) -> pa.Table:
        import pyarrow as pa

        parts: list[pa.RecordBatch] = []
        need = n
        while need:
            head = self._pending[0]
            if head.num_rows <= need:
                parts.append(self._pending.popleft())
                need -= head.num_rows
            else:
                parts.append(head.slice(0, need))
                self._pending[0] = head.slice(need)
                need = 0
        self.available -= n
        return pa.Table.from_batches(parts)


def _aligned(
    streams: tuple[Iterator[Any], Iterator[Any], Iterator[Any]],
) -> Iterator[tuple[pa.Table, pa.Table, pa.Table]]:
    """Yield equal-length row ranges from each stream, in order, until all are exhausted."""
    buffers = [_Buffer(s) for s in streams]
    while True:
        for buf in buffers:
            buf.fill()
        n = min(buf.available for buf in buffers)
        if n == 0:
            if any(buf.available for buf in buffers):
                counts = ", ".join(str(buf.available) for buf in buffers)
                raise RuntimeError(f"replay streams ended at different rows ({counts} left)")
            return
        first, second, third = (buf.take(n) for buf in buffers)
        yield first, second, third
