"""The ``Recorder``: how a gateway appends its decisions from Python.

Memory is bounded (at most ``batch_size`` records are buffered); a full buffer is sealed
automatically, and ``flush`` returns only once everything buffered is sealed, fsynced and
committed by a signed checkpoint. A context manager flushes on exit::

    with Recorder(Path("evidence"), load_signer(Path("evidence.key"))) as recorder:
        for decision in decisions:
            recorder.record({...})          # a DecisionRecord or its {alias: value} dict
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from nexusctl.clock import SYSTEM_CLOCK, Clock
from nexusctl.errors import InputError
from nexusctl.evidence.note import NoteSigner
from nexusctl.evidence.record import DecisionRecord
from nexusctl.evidence.store import KINDS, IngestResult, ingest
from nexusctl.evidence.table import records_table


class Recorder:
    """Buffers decision records and appends them to a store in batches."""

    def __init__(
        self,
        store: Path,
        signer: NoteSigner,
        *,
        batch_size: int = 10_000,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if batch_size < 1:
            raise InputError("batch_size must be at least 1")
        self.store = store
        self.signer = signer
        self.batch_size = batch_size
        self.clock = clock
        self._buffer: list[DecisionRecord] = []
        self.results: list[IngestResult] = []

    def record(self, record: DecisionRecord | dict[str, Any]) -> None:
        """Buffer one record (validated now); seal the batch when it is full.

        Raises:
            InputError: the record is invalid (nothing is buffered).
        """
        from pydantic import ValidationError

        if not isinstance(record, DecisionRecord):
            try:
                record = DecisionRecord.model_validate(record)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "record"
                raise InputError(f"invalid decision record: {where}: {first['msg']}") from None
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Seal everything buffered; durable and signed when this returns."""
        buffered, self._buffer = self._buffer, []
        for kind in KINDS:
            batch = [r for r in buffered if r.kind == kind]
            if batch:
                table = records_table(batch)
                result = ingest(self.store, table, self.signer, kind, self.clock, "recorder")
                self.results.append(result)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.flush()
