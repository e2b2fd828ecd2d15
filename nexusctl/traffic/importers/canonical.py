"""Plain CSV, JSON Lines or Parquet files already in the canonical columns.

The suffix picks the reader: ``.csv``, ``.jsonl``/``.ndjson``, ``.parquet``. In CSV,
capabilities are one ';'-separated string ("tools;json", empty = none) and booleans are
``true``/``false``. ``time`` is RFC 3339 (no offset = UTC) or, in JSON, Unix epoch
milliseconds. Unknown columns are refused (a typo would silently drop data). Defaults for
absent columns: use_case ``general``, cached/reasoning tokens 0, capabilities none.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError
from nexusctl.traffic._coerce import python_array
from nexusctl.traffic.importers._raw import (
    CHUNK_ROWS,
    RawTraffic,
    iter_counted_line_blocks,
    iter_csv_strings,
    iter_line_spans,
    open_check,
    parse_json_line,
    parse_lines,
    prefetched,
    rebatch,
    split_lines,
)
from nexusctl.traffic.importers._split import parse_in_workers, split_workers
from nexusctl.traffic.parquet import ReadLimits, open_traffic_parquet, traffic_batches
from nexusctl.traffic.schema import IMPORT_DEFAULTS, TRAFFIC


def read_canonical(path: Path, limits: ReadLimits | None = None) -> Iterator[RawTraffic]:
    """Stream a canonical CSV, JSONL or Parquet file as chunks of raw columns.

    Raises:
        TrafficError: unknown suffix, unknown columns, unreadable file, a Parquet footer
            over ``limits``.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return prefetched(_read_csv(path))
    if suffix in (".jsonl", ".ndjson"):
        workers = split_workers(open_check(path))
        if workers:
            blocks = iter_line_spans(path, keep_data=False)
            # Single-threaded parses: the worker is the parallelism, and a block parsed in
            # this process shares its core with the pipeline (Arrow's threads would only add
            # buffers, ~45 MiB of peak, and take time from the worker).
            parse = functools.partial(parse_jsonl_block, threads=False)
            return parse_in_workers(path, blocks, parse, workers)
        return prefetched(_read_jsonl(path))
    if suffix == ".parquet":
        return _read_parquet(path, limits or ReadLimits())
    raise TrafficError(
        f"{path}: cannot tell the canonical format from the suffix {suffix!r}",
        hint="use .csv, .jsonl (or .ndjson) or .parquet",
    )


def _read_csv(path: Path) -> Iterator[RawTraffic]:
    for batch, lines in iter_csv_strings(path):
        _check_names(str(path), batch.schema.names)
        columns = {name: batch.column(name) for name in batch.schema.names}
        yield RawTraffic(columns, batch.num_rows, lines, dict(IMPORT_DEFAULTS), {"format": "csv"})


def _check_names(where: str, names: list[str]) -> None:
    """Refuse names that are not canonical columns; ``where`` is the path, or path:line."""
    unknown = [n for n in names if n not in TRAFFIC.names]
    if unknown:
        name = unknown[0]
        near = difflib.get_close_matches(name, TRAFFIC.names, n=1, cutoff=0.6)
        more = f" (did you mean {near[0]!r}?)" if near else ""
        raise TrafficError(
            f"{where}: unknown column(s) {', '.join(repr(u) for u in unknown)}{more}",
            hint="canonical columns: " + ", ".join(TRAFFIC.names),
        )


def _read_jsonl(path: Path) -> Iterator[RawTraffic]:
    for block, first_line, rows in iter_counted_line_blocks(path):
        yield parse_jsonl_block(path, block, first_line, rows)


def parse_jsonl_block(
    path: Path, block: bytes, first_line: int, rows: int, *, threads: bool = True
) -> RawTraffic:
    """One chunk from a block of ``rows`` whole JSON Lines starting at line ``first_line``.

    ``threads``: whether Arrow may parse the block's 4 MiB pieces on its thread pool (the
    chunk is the same either way).

    Raises:
        TrafficError: a key that is not a canonical column.
    """
    import numpy as np

    errors: dict[int, str] = {}
    columns = _parse_fast(block, rows, threads)
    if columns is not None:  # one row per line: checked by _parse_fast
        numbers: Any = np.arange(first_line, first_line + rows, dtype=np.int64)
    else:
        lines, line_numbers = split_lines(block, first_line)
        columns, errors = _parse_each(path, lines, line_numbers)
        numbers = np.array(line_numbers, dtype=np.int64)
    return RawTraffic(
        columns, len(numbers), numbers, dict(IMPORT_DEFAULTS), {"format": "jsonl"}, errors
    )


def _parse_fast(block: bytes, lines: int, threads: bool) -> dict[str, Any] | None:
    """Parse a block of lines with Arrow's JSON reader against the canonical types, or None.

    Only for clean blocks: a blank line (Arrow skips it, so rows and lines would not match) or
    any line Arrow cannot read as one object of canonical fields with canonical types (a
    string where a number belongs, an unknown key, a repeated key, NaN, deep nesting, a time
    given as a number) sends the whole block to the line-by-line parser, which names each bad
    line. A column null on every line counts as absent.

    The schema given to Arrow holds the canonical columns the block's first line names: Arrow
    fills a declared column that no line holds one null per row, which costs a third of the
    parse. A later line with another canonical column is retried with every column declared.
    Unknown keys stay errors either way (Arrow never infers a type for them, so a hostile
    nesting under an unknown key is never built).
    """
    first = _first_line_columns(block)
    if first is not None and len(first) < len(TRAFFIC.names):
        table, unexpected = _read_json_block(block, first, threads)
        if table is not None:
            return _clean_columns(table, lines)
        if not unexpected:
            return None  # not a missing declaration: declaring more would not help
    table, _ = _read_json_block(block, TRAFFIC.names, threads)
    return None if table is None else _clean_columns(table, lines)


def _first_line_columns(block: bytes) -> tuple[str, ...] | None:
    """The canonical columns the block's first line holds, in canonical order (None: unclear)."""
    value, error = parse_json_line(block[: block.find(b"\n") if b"\n" in block else None])
    if error is not None or not isinstance(value, dict):
        return None
    return tuple(name for name in TRAFFIC.names if name in value)


def _read_json_block(block: bytes, names: tuple[str, ...], threads: bool) -> tuple[Any, bool]:
    """Arrow's reading of ``block`` with the canonical types of ``names``: (table, False), or
    (None, whether Arrow met a key outside ``names``).
    """
    import pyarrow as pa
    import pyarrow.json as pajson

    from nexusctl.tables import arrow_type

    fields = []
    for name in names:
        kind = TRAFFIC.kind(name)
        fields.append(pa.field(name, pa.string() if kind == "timestamp" else arrow_type(kind)))
    options = pajson.ParseOptions(
        explicit_schema=pa.schema(fields), unexpected_field_behavior="error"
    )
    try:
        table = pajson.read_json(
            pa.BufferReader(block),
            read_options=pajson.ReadOptions(block_size=4 << 20, use_threads=threads),
            parse_options=options,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return None, "unexpected field" in str(exc)
    return table, False


def _clean_columns(table: Any, lines: int) -> dict[str, Any] | None:
    """The non-null columns of a parsed block, or None if it is not one finite row per line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows != lines:
        return None  # not one object per line
    columns: dict[str, Any] = {}
    for name in table.column_names:
        array = table.column(name).combine_chunks()
        if array.null_count == table.num_rows:
            continue
        # Arrow reads the non-JSON literals NaN and Infinity (and 1e400 as infinity); the
        # strict parser refuses the first and names the value of the second.
        if pa.types.is_floating(array.type) and not pc.all(pc.is_finite(array)).as_py():
            return None
        columns[name] = array
    return columns


def _parse_each(
    path: Path, lines: list[bytes], numbers: list[int]
) -> tuple[dict[str, Any], dict[int, str]]:
    records, errors = parse_lines(lines)
    for row, value in enumerate(records):
        if value is not None and not isinstance(value, dict):
            errors[row] = f"expected a JSON object, got {type(value).__name__}"
    objects = [r if isinstance(r, dict) else {} for r in records]
    names: dict[str, None] = {}
    for row, obj in enumerate(objects):
        if not names.keys() >= obj.keys():
            # An unknown key is named with the first line that holds it.
            _check_names(f"{path}:{numbers[row]}", [n for n in obj if n not in names])
            names.update(dict.fromkeys(obj))
    columns = {
        name: python_array([obj.get(name) for obj in objects], TRAFFIC.kind(name)) for name in names
    }
    return columns, errors


def _read_parquet(path: Path, limits: ReadLimits) -> Iterator[RawTraffic]:
    parquet = open_traffic_parquet(path, limits)
    _check_names(str(path), parquet.schema_arrow.names)
    for batch in rebatch(traffic_batches(parquet, str(path), batch_rows=CHUNK_ROWS), CHUNK_ROWS):
        columns = {name: batch.column(name) for name in batch.schema.names}
        yield RawTraffic(
            columns, batch.num_rows, None, dict(IMPORT_DEFAULTS), {"format": "parquet"}
        )
