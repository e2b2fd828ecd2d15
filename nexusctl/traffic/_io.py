"""Write and read canonical traffic Parquet files: zstd, contract-A metadata, atomic replace."""

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


def write_traffic(path: Path, batches: Iterable[Any], metadata: dict[str, Any]) -> int:
    """Write canonical batches (or tables) to ``path`` as one Parquet file; return the row count.

    The file appears only when complete: it is written to a temporary file in the same folder
    and moved into place with ``os.replace``. On any error nothing is left behind.

    Raises:
        EnvironmentError_: the output folder is missing or not writable.
        TrafficError: a batch does not match the canonical schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = traffic_schema().with_metadata(
        {METADATA_KEY: json.dumps(metadata, sort_keys=True, separators=(",", ":"))}
    )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise EnvironmentError_(f"{path}: output folder {folder} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise EnvironmentError_(f"{path}: cannot write: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if not batch.schema.equals(traffic_schema()):
                    raise TrafficError(f"internal: batch schema differs from contract A for {path}")
                if isinstance(batch, pa.RecordBatch):
                    batch = pa.Table.from_batches([batch])
                writer.write_table(batch, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
        os.replace(tmp, path)
    except OSError as exc:
        raise EnvironmentError_(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return rows


def read_metadata(path: Path) -> dict[str, Any] | None:
    """Return the ``nexusctl.traffic`` metadata of a Parquet file, or None when absent.

    Raises:
        TrafficError: not a readable Parquet file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise TrafficError(f"{path}: not a readable Parquet file ({exc})") from None
    raw = meta.get(METADATA_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise TrafficError(f"{path}: nexusctl.traffic metadata is not JSON") from None
    return value if isinstance(value, dict) else None
