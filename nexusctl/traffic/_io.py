"""Write canonical traffic Parquet files: zstd, dictionaries for the columns declared to repeat,
contract-A metadata, atomic replace.

The metadata may be given when the writer opens, or only when it publishes (``publish(meta)``):
a streaming import learns its counts after the last row. Metadata given at publish goes into
the footer's key-value metadata and the file stores no serialized Arrow schema, so readers
rebuild the schema from the Parquet types (the same contract-A schema) and see the metadata
on it exactly as on a file written with it up front.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nexusctl.errors import EnvironmentError_, TrafficError
from nexusctl.traffic.schema import METADATA_KEY, TRAFFIC, traffic_schema

#: Parquet row-group size: bounded memory for writers and readers of large files.
ROW_GROUP_ROWS = 1 << 20


class TrafficWriter:
    """Write canonical batches to a temporary file beside ``path``; ``publish`` moves it there.

    Use as a context manager: leaving it without ``publish`` (an error) removes the temporary
    file, so a failed write never leaves anything behind.

    Raises:
        EnvironmentError_: the output folder is missing or not writable.
        TrafficError: a batch does not match the canonical schema.
    """

    def __init__(self, path: Path, metadata: dict[str, Any] | None) -> None:
        self.path = path
        self.rows = 0
        self._metadata = metadata
        self._writer: Any = None
        self._tmp: Path | None = None
        self._pool: Any = None
        self._pending: Any = None

    def __enter__(self) -> TrafficWriter:
        import pyarrow.parquet as pq

        schema = traffic_schema()
        if self._metadata is not None:
            text = json.dumps(self._metadata, sort_keys=True, separators=(",", ":"))
            schema = schema.with_metadata({METADATA_KEY: text})
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise EnvironmentError_(f"{self.path}: output folder {folder} does not exist")
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
            os.close(fd)
            self._tmp = Path(tmp_name)
            # Metadata known only at publish goes to the footer; a serialized Arrow schema
            # written now would not carry it (see the module docstring).
            self._writer = pq.ParquetWriter(
                self._tmp,
                schema,
                compression="zstd",
                use_dictionary=TRAFFIC.dictionary_columns(),
                store_schema=self._metadata is not None,
            )
        except OSError as exc:
            self._cleanup()
            raise EnvironmentError_(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        return self

    @property
    def temporary(self) -> Path:
        """Where the rows are being written (valid until publish or exit)."""
        assert self._tmp is not None
        return self._tmp

    def write(self, batch: Any) -> None:
        """Append a canonical RecordBatch or Table."""
        import pyarrow as pa

        if batch.num_rows == 0:
            return
        if not batch.schema.equals(traffic_schema()):
            raise TrafficError(f"internal: batch schema differs from contract A for {self.path}")
        if isinstance(batch, pa.RecordBatch):
            batch = pa.Table.from_batches([batch])
        # Encoding and compressing run in one background thread (Arrow releases the GIL)
        # while the caller prepares the next batch; at most one batch is in flight.
        self._wait()
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traffic-writer")
        self._pending = self._pool.submit(self._write_now, batch)
        self.rows += batch.num_rows

    def _write_now(self, table: Any) -> None:
        try:
            self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        except OSError as exc:
            raise EnvironmentError_(f"{self.path}: cannot write: {exc.strerror or exc}") from None

    def _wait(self) -> None:
        """Wait for the batch in flight; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Finish the temporary file (its footer) without publishing it."""
        self._wait()
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:
                raise EnvironmentError_(f"{self.path}: cannot write: {exc}") from None
            self._writer = None

    def publish(self, metadata: dict[str, Any] | None = None) -> None:
        """Close the file and move it to ``path`` atomically.

        ``metadata`` is the contract-A record when it was not given at open.
        """
        self._wait()
        if metadata is not None:
            if self._metadata is not None:
                raise TrafficError(f"internal: metadata given twice for {self.path}")
            text = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
            self._writer.add_key_value_metadata({METADATA_KEY: text.encode()})
        self.close()
        try:
            os.replace(self.temporary, self.path)
        except OSError as exc:
            raise EnvironmentError_(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self._tmp = None

    def _cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self._wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None

    def __exit__(self, *exc_info: object) -> None:
        self._cleanup()


def write_traffic(path: Path, batches: Iterable[Any], metadata: dict[str, Any]) -> int:
    """Write canonical batches (or tables) to ``path`` as one Parquet file; return the row count.

    The file appears only when complete (``TrafficWriter``); on any error nothing is left.

    Raises:
        EnvironmentError_: the output folder is missing or not writable.
        TrafficError: a batch does not match the canonical schema.
    """
    with TrafficWriter(path, metadata) as writer:
        for batch in batches:
            writer.write(batch)
        writer.publish()
        return writer.rows
