"""The importers' reader thread hands chunks over in order, raises where the reader raised,
and stops and closes the reader when the consumer leaves early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from nexusctl.errors import TrafficError
from nexusctl.traffic.importers._raw import prefetched


def test_chunks_arrive_in_order_and_the_error_after_them() -> None:
    def reader() -> Iterator[int]:
        yield from range(5)
        raise TrafficError("bad line 6")

    seen: list[int] = []

    def consume() -> None:
        for item in prefetched(reader()):
            seen.append(item)

    with pytest.raises(TrafficError, match="bad line 6"):
        consume()
    assert seen == [0, 1, 2, 3, 4]


def test_leaving_early_stops_and_closes_the_reader() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def reader() -> Iterator[int]:
        try:
            for item in range(1000):
                produced.append(item)
                yield item
        finally:
            closed.set()

    chunks = prefetched(reader())
    assert next(chunks) == 0
    chunks.close()  # joins the reader thread
    assert closed.is_set()
    # At most the chunk handed over, one waiting in the slot and one being read.
    assert len(produced) <= 3
