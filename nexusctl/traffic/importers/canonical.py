"""Plain CSV, JSON Lines or Parquet files already in the canonical columns.

The suffix picks the reader: ``.csv``, ``.jsonl``/``.ndjson``, ``.parquet``. In CSV,
capabilities are one ';'-separated string ("tools;json", empty = none) and booleans are
``true``/``false``. ``time`` is RFC 3339 (no offset = UTC) or, in JSON, Unix epoch
milliseconds. Unknown columns are refused (a typo would silently drop data). Defaults for
absent columns: use_case ``general``, cached/reasoning tokens 0, capabilities none.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError
from nexusctl.traffic._coerce import python_array
from nexusctl.traffic.importers._raw import (
    RawTraffic,
    open_check,
    parse_json_lines,
    read_csv_strings,
    read_text,
)
from nexusctl.traffic.schema import COLUMN_KIND, COLUMN_NAMES

DEFAULTS: dict[str, Any] = {
    "use_case": "general",
    "cached_input_tokens": 0,
    "reasoning_tokens": 0,
    "capabilities": [],
}


def read_canonical(path: Path) -> RawTraffic:
    """Read a canonical CSV, JSONL or Parquet file into raw columns.

    Raises:
        TrafficError: unknown suffix, unknown columns, unreadable file.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table, lines = read_csv_strings(path)
        _check_names(path, table.column_names)
        columns = {name: table.column(name) for name in table.column_names}
        return RawTraffic(columns, table.num_rows, lines, dict(DEFAULTS), {"format": "csv"})
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise TrafficError(
        f"{path}: cannot tell the canonical format from the suffix {suffix!r}",
        hint="use .csv, .jsonl (or .ndjson) or .parquet",
    )


def _check_names(path: Path, names: list[str]) -> None:
    unknown = [n for n in names if n not in COLUMN_NAMES]
    if unknown:
        name = unknown[0]
        near = difflib.get_close_matches(name, COLUMN_NAMES, n=1, cutoff=0.6)
        more = f" (did you mean {near[0]!r}?)" if near else ""
        raise TrafficError(
            f"{path}: unknown column(s) {', '.join(repr(u) for u in unknown)}{more}",
            hint="canonical columns: " + ", ".join(COLUMN_NAMES),
        )


def _read_jsonl(path: Path) -> RawTraffic:
    import numpy as np

    records, lines, errors = parse_json_lines(path, read_text(path))
    for row, value in enumerate(records):
        if value is not None and not isinstance(value, dict):
            errors[row] = f"expected a JSON object, got {type(value).__name__}"
    objects = [r if isinstance(r, dict) else {} for r in records]
    names: dict[str, None] = {}
    for obj in objects:
        names.update(dict.fromkeys(obj))
    _check_names(path, list(names))
    columns = {
        name: python_array([obj.get(name) for obj in objects], COLUMN_KIND[name]) for name in names
    }
    return RawTraffic(
        columns,
        len(objects),
        np.array(lines, dtype=np.int64),
        dict(DEFAULTS),
        {"format": "jsonl"},
        errors,
    )


def _read_parquet(path: Path) -> RawTraffic:
    import pyarrow as pa
    import pyarrow.parquet as pq

    open_check(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise TrafficError(f"{path}: not a readable Parquet file ({exc})") from None
    _check_names(path, table.column_names)
    columns = {name: table.column(name) for name in table.column_names}
    return RawTraffic(columns, table.num_rows, None, dict(DEFAULTS), {"format": "parquet"})
