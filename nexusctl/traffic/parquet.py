"""Open canonical traffic Parquet files within documented caps, and read them in batches.

A Parquet file is compressed: 2.7 MB of constant columns can declare 40M rows that decode to
gigabytes. So every reader checks the footer before reading a single row: the row count and
the uncompressed size the row groups declare must stay under ``ReadLimits`` (defaults below,
raised with ``--max-rows`` where a command offers it), and rows are then read in bounded
batches (``iter_batches``, no pre-buffering), never as one table. The ``nexusctl.traffic``
key-value metadata is size-capped and parsed without recursion errors reaching the user.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError
from nexusctl.traffic.schema import METADATA_KEY

#: Rows a reader accepts by default: 20M requests (~3 GB decoded at ~150 bytes a row).
DEFAULT_MAX_ROWS = 20_000_000
#: Uncompressed bytes (sum of the row groups' declared sizes) accepted by default.
DEFAULT_MAX_UNCOMPRESSED = 8 << 30
#: The ``nexusctl.traffic`` metadata is a small JSON record.
MAX_METADATA_BYTES = 1 << 20
#: Rows per batch read from a file.
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class ReadLimits:
    """Caps checked against a Parquet footer before any row is read."""

    max_rows: int = DEFAULT_MAX_ROWS
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED


def read_limits(max_rows: int | None) -> ReadLimits:
    """The default caps, or caps scaled to ``max_rows`` (bytes grow in proportion)."""
    if max_rows is None:
        return ReadLimits()
    scaled = max(DEFAULT_MAX_UNCOMPRESSED, DEFAULT_MAX_UNCOMPRESSED * max_rows // DEFAULT_MAX_ROWS)
    return ReadLimits(max_rows, scaled)


def open_traffic_parquet(
    path: Path, limits: ReadLimits | None = None, *, what: str = "traffic file"
) -> Any:
    """Open ``path`` as a ``pyarrow.parquet.ParquetFile`` after checking its footer.

    Raises:
        TrafficError: missing, not a regular file, empty, not Parquet, or over a cap.
    """
    require_regular_file(path, what)
    return open_traffic_stream(path, str(path), limits)


def open_traffic_stream(source: Any, shown: str, limits: ReadLimits | None = None) -> Any:
    """Open ``source`` (a path, or a seekable binary stream such as a URL's) after its footer.

    ``open_traffic_parquet`` without the local-file checks: for a stream whose filesystem
    has already refused missing, non-regular and empty files.

    Raises:
        TrafficError: not Parquet, or over a cap.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = shown
    try:
        # pre_buffer=False: pre-buffering caches read-ahead column chunks of the whole file.
        parquet = pq.ParquetFile(source, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise TrafficError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
    limits = limits or ReadLimits()
    footer = parquet.metadata
    rows = footer.num_rows
    if rows > limits.max_rows:
        raise TrafficError(
            f"{path}: the footer declares {rows:,} rows, over the cap of {limits.max_rows:,}",
            hint="raise the cap with --max-rows if the file is genuine (docs/traffic.md)",
        )
    size = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
    if size > limits.max_uncompressed_bytes:
        raise TrafficError(
            f"{path}: the footer declares {size:,} uncompressed bytes, over the cap of "
            f"{limits.max_uncompressed_bytes:,}",
            hint="split the file, or raise the cap with --max-rows if it is genuine",
        )
    return parquet


def require_regular_file(path: Path, what: str) -> int:
    """Return the size of the regular file ``path``; refuse anything else or an empty file.

    ``stat`` never blocks, so a FIFO or a device is refused without being opened.

    Raises:
        TrafficError: missing, a directory, a device/FIFO/socket, unreadable, or empty.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise TrafficError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise TrafficError(f"{path}: cannot read {what}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise TrafficError(f"{path}: is a directory, expected a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise TrafficError(f"{path}: is not a regular file (device, FIFO or socket)")
    if info.st_size == 0:
        raise TrafficError(f"{path}: empty {what} (0 bytes)")
    return info.st_size


def traffic_batches(
    parquet: Any,
    shown: str,
    columns: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[Any]:
    """Yield the file's rows as record batches of at most ``batch_rows`` rows.

    Raises:
        TrafficError: a page cannot be decoded (with the row it was near).
    """
    import pyarrow as pa

    first = 0
    batches = parquet.iter_batches(
        batch_size=batch_rows, columns=None if columns is None else list(columns)
    )
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            raise TrafficError(
                f"{shown}: cannot read traffic near row {first + 1}: {_first_line(exc)}"
            ) from None
        if batch is None:
            return
        first += batch.num_rows
        yield batch


def file_metadata(parquet: Any, shown: str) -> dict[str, Any] | None:
    """Return the ``nexusctl.traffic`` metadata record of an open file, or None when absent.

    Raises:
        TrafficError: the record is too large, nested too deeply or not a JSON object.
    """
    raw = (parquet.schema_arrow.metadata or {}).get(METADATA_KEY)
    return None if raw is None else parse_metadata(raw, shown)


def parse_metadata(raw: bytes, shown: str) -> dict[str, Any]:
    """Parse a ``nexusctl.traffic`` metadata value (bounded, no recursion error escapes).

    Raises:
        TrafficError: too large, not JSON, nested too deeply, or not an object.
    """
    if len(raw) > MAX_METADATA_BYTES:
        raise TrafficError(
            f"{shown}: nexusctl.traffic metadata is {len(raw):,} bytes, over the 1 MiB cap"
        )
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TrafficError(f"{shown}: nexusctl.traffic metadata is nested too deeply") from None
    except ValueError as exc:
        raise TrafficError(f"{shown}: nexusctl.traffic metadata is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise TrafficError(f"{shown}: nexusctl.traffic metadata is not a JSON object")
    return value


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
