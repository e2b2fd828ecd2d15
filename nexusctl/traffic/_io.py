"""Write canonical traffic Parquet files: zstd, contract-A metadata, atomic replace."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nexusctl.errors import EnvironmentError_, TrafficError
from nexusctl.traffic.schema import METADATA_KEY, traffic_schema

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

    def __init__(
        self, path: Path, metadata: dict[str, Any] | None, *, staging: bool = False
    ) -> None:
        self.path = path
        #: A staging file holds rows not yet checked: nulls in required columns are allowed.
        self.staging = staging
        self.rows = 0
        self._metadata = metadata
        self._writer: Any = None
        self._tmp: Path | None = None

    def __enter__(self) -> TrafficWriter:
        import pyarrow.parquet as pq

        schema = _staging_schema() if self.staging else traffic_schema()
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
            # A staging file is read once, right back: plain pages, no statistics (fastest).
            options: dict[str, Any] = (
                {"compression": "none", "use_dictionary": False, "write_statistics": False}
                if self.staging
                else {"compression": "zstd"}
            )
            self._writer = pq.ParquetWriter(self._tmp, schema, **options)
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
        if self.staging:
            batch = pa.Table.from_arrays(batch.columns, schema=_staging_schema())
        try:
            self._writer.write_table(batch, row_group_size=ROW_GROUP_ROWS)
        except OSError as exc:
            raise EnvironmentError_(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self.rows += batch.num_rows

    def close(self) -> None:
        """Finish the temporary file (its footer) without publishing it."""
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:
                raise EnvironmentError_(f"{self.path}: cannot write: {exc}") from None
            self._writer = None

    def publish(self) -> None:
        """Close the file and move it to ``path`` atomically."""
        self.close()
        try:
            os.replace(self.temporary, self.path)
        except OSError as exc:
            raise EnvironmentError_(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self._tmp = None

    def _cleanup(self) -> None:
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


def _staging_schema() -> Any:
    import pyarrow as pa

    return pa.schema([f.with_nullable(True) for f in traffic_schema()])


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
