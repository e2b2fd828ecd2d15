"""What every format reader hands to the import pipeline, and the file readers they share."""

from __future__ import annotations

import codecs
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusctl.errors import EnvironmentError_, TrafficError

_CHUNK = 16 * 1024 * 1024


@dataclass
class RawTraffic:
    """Source columns keyed by canonical name, loosely typed, plus where each row came from.

    ``lines`` holds each row's 1-based source line (CSV, JSONL) or is None. ``defaults`` are
    the values a format documents for a column it does not carry. ``unparsable`` are 0-based
    rows that could not be read at all (their other problems are not repeated).
    """

    columns: dict[str, Any]
    n_rows: int
    lines: Any = None
    defaults: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    unparsable: dict[int, str] = field(default_factory=dict)
    #: (0-based row, column, message) problems the reader found itself.
    row_problems: list[tuple[int, str, str]] = field(default_factory=list)


def open_check(path: Path) -> int:
    """Return the file's size; refuse a missing, unreadable or empty file.

    Raises:
        TrafficError: missing, a directory, or empty.
        EnvironmentError_: unreadable.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TrafficError(f"{path}: file not found") from None
    except OSError as exc:
        raise EnvironmentError_(f"{path}: cannot read: {exc.strerror}") from None
    if path.is_dir():
        raise TrafficError(f"{path}: is a directory, expected a file")
    if size == 0:
        raise TrafficError(f"{path}: empty file (no header, no requests)")
    return size


def check_utf8(path: Path) -> None:
    """Stream the file through a strict UTF-8 decoder; name the line of the first bad byte.

    Raises:
        TrafficError: a byte sequence is not UTF-8.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                line += chunk.count(b"\n", 0, exc.start)
                column = exc.start - (chunk.rfind(b"\n", 0, exc.start) + 1) + 1
                raise TrafficError(
                    f"{path}:{line}:{column}: not valid UTF-8 "
                    f"(byte 0x{chunk[exc.start]:02x}); traffic files must be UTF-8"
                ) from None
            if final:
                return
            line += chunk.count(b"\n")


def read_text(path: Path) -> str:
    """Read a whole UTF-8 text file (a leading BOM is dropped).

    Raises:
        TrafficError: empty or not UTF-8.
    """
    open_check(path)
    check_utf8(path)
    return path.read_bytes().decode("utf-8").removeprefix("\ufeff")


def read_csv_strings(path: Path) -> tuple[Any, Any]:
    """Read a CSV file with a header row; every column as strings. Returns (table, lines).

    Row i (0-based) came from line i + 2. Fields may not contain newlines; blank lines are
    errors (they would shift every reported line number).

    Raises:
        TrafficError: empty, not UTF-8, no header, duplicate column names, malformed rows.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    open_check(path)
    check_utf8(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    header = next(csv.reader([first]), [])
    if not header or all(not h.strip() for h in header):
        raise TrafficError(f"{path}:1: missing header row")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise TrafficError(f"{path}:1: duplicate column(s) in header: {', '.join(duplicates)}")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise TrafficError(f"{path}: malformed CSV: {_arrow_message(exc)}") from None
    lines = np.arange(table.num_rows, dtype=np.int64) + 2
    return table, lines


def _arrow_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def parse_json(path: Path, text: str) -> Any:
    """Parse a JSON document; a syntax error names its line and column.

    Raises:
        TrafficError: not JSON (truncated, trailing data, NaN).
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise TrafficError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise TrafficError(f"{path}: invalid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_lines(path: Path, text: str) -> tuple[list[Any], list[int], dict[int, str]]:
    """Parse JSON Lines: (values, 1-based line of each, {row: error} for unparsable lines).

    Blank lines are skipped. An unparsable line becomes a None row with its error, so that
    ``--skip-invalid`` can skip and count it like any other invalid row.
    """
    values: list[Any] = []
    lines: list[int] = []
    errors: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line, parse_constant=_reject_constant))
        except json.JSONDecodeError as exc:
            errors[len(values)] = f"invalid JSON at column {exc.colno}: {exc.msg}"
            values.append(None)
        except ValueError as exc:
            errors[len(values)] = f"invalid JSON: {exc}"
            values.append(None)
        lines.append(number)
    return values, lines, errors
