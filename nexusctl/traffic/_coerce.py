"""Turn loosely typed source columns into the canonical Arrow types, row by row reported.

Sources hand over whatever they hold (CSV: strings; JSON: numbers, strings, lists, mixed).
Each column is converted vectorised with pyarrow.compute; a value that does not convert is
set to null and its row is recorded as a Problem with the reason (``not an integer: 'abc'``).

Text columns take a fast path first (``_fast``): when every value of a chunk is plainly well
formed (checked on the raw bytes with NumPy: a character set, fixed positions for times) the
column is cast in one Arrow kernel. The fast path only ever accepts values the exact path
accepts, with the same result (``test_traffic_coerce`` compares the two); anything else, and
any chunk with a null, takes the exact path, which names every bad value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nexusctl.tables import arrow_type
from nexusctl.traffic import _fast
from nexusctl.traffic.schema import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    TIME_RANGE_TEXT,
    TRAFFIC,
    Problems,
)

_INT_RE = r"^[+-]?[0-9]{1,18}$"
_FLOAT_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# RFC 3339 / ISO 8601 date-time; space or T; 0-9 fractional digits; optional Z or offset.
_TIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
_OFFSET_RE = r"(Z|z|[+-][0-9]{2}:?[0-9]{2})$"
_TRUE = ("true", "True", "TRUE", "1")
_FALSE = ("false", "False", "FALSE", "0")


def python_array(values: Sequence[Any], kind: str) -> Any:
    """Build an Arrow array from Python values of one column, however mixed their types.

    Homogeneous values keep their type; mixed ones become strings (JSON text for non-strings)
    so the converter can name each bad value. Capabilities may be a list or a ';' string.
    """
    import pyarrow as pa

    if kind == "list<string>":
        values = [_capabilities_value(v) for v in values]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([_as_text(v, kind) for v in values], pa.string())


def _as_text(value: Any, kind: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if (
        kind == "list<string>"
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return ";".join(value)
    return json.dumps(value)


def _capabilities_value(value: Any) -> Any:
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return json.dumps(value)
    return value


def coerce_column(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    """Return ``array`` converted to the canonical type of column ``name``; record bad rows."""
    import pyarrow as pa

    kind = TRAFFIC.kind(name)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), arrow_type(kind))
    converter = {
        "string": _to_string,
        "int64": _to_int,
        "float64": _to_float,
        "bool": _to_bool,
        "timestamp": _to_time,
        "list<string>": _to_list,
    }[kind]
    return converter(name, array, problems, lines)


def _is_text(array: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))


def _blank_to_null(array: Any) -> Any:
    """Trim strings and turn empty ones into nulls (an empty CSV cell is a missing value)."""
    import pyarrow.compute as pc

    if _fast.trimmed(array):
        return array  # nothing to trim, nothing empty (checked on the bytes)

    trimmed = pc.utf8_trim_whitespace(array.cast("string"))
    empty = pc.equal(trimmed, "")
    return pc.if_else(empty, None, trimmed) if pc.any(empty).as_py() else trimmed


def _wrong_type(name: str, array: Any, expected: str, problems: Problems, lines: Any) -> Any:
    import pyarrow as pa

    values = array.to_pylist()
    mask = array.is_valid().to_numpy(zero_copy_only=False)
    problems.add(
        mask,
        name,
        lambda i: f"expected {expected}, got {json.dumps(values[i], default=str)}",
        lines,
    )
    return pa.nulls(len(array), arrow_type(TRAFFIC.kind(name)))


def _reject(name: str, array: Any, bad: Any, expected: str, problems: Problems, lines: Any) -> Any:
    """Record rows where ``bad`` holds and return ``array`` with those values nulled."""
    import pyarrow.compute as pc

    bad_np = bad.to_numpy(zero_copy_only=False)
    if bad_np.any():
        values = array.to_pylist()
        problems.add(bad_np, name, lambda i: f"{expected}: {values[i]!r}", lines)
        array = pc.if_else(bad, None, array)
    return array


def _to_string(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    if not _is_text(array):
        return _wrong_type(name, array, "a string", problems, lines)
    return _blank_to_null(array)


def _to_int(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    fast = _fast.integers(array)
    if fast is not None:
        return fast

    if pa.types.is_integer(array.type):
        if pa.types.is_uint64(array.type):
            too_big = pc.fill_null(pc.greater(array, 2**63 - 1), False)
            array = _reject(name, array, too_big, "not an int64", problems, lines)
        return array.cast(pa.int64())
    if pa.types.is_floating(array.type):
        not_integral = pc.fill_null(
            pc.invert(pc.and_(pc.is_finite(array), pc.equal(array, pc.floor(array)))),
            False,
        )
        not_integral = pc.or_(not_integral, pc.fill_null(pc.greater(pc.abs(array), 1e18), False))
        array = _reject(name, array, not_integral, "not an integer", problems, lines)
        return array.cast(pa.int64(), safe=False)
    if _is_text(array):
        array = _blank_to_null(array)
        bad = pc.fill_null(pc.invert(pc.match_substring_regex(array, _INT_RE)), False)
        array = _reject(name, array, bad, "not an integer", problems, lines)
        return array.cast(pa.int64())
    return _wrong_type(name, array, "an integer", problems, lines)


def _to_float(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        return array.cast(pa.float64())
    fast = _fast.floats(array)
    if fast is not None:
        return fast
    if _is_text(array):
        array = _blank_to_null(array)
        bad = pc.fill_null(pc.invert(pc.match_substring_regex(array, _FLOAT_RE)), False)
        array = _reject(name, array, bad, "not a number", problems, lines)
        return array.cast(pa.float64())
    return _wrong_type(name, array, "a number", problems, lines)


def _to_bool(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(array.type):
        return array
    if _is_text(array):
        array = _blank_to_null(array)
        is_true = pc.is_in(array, value_set=pa.array(_TRUE))
        is_false = pc.is_in(array, value_set=pa.array(_FALSE))
        bad = pc.fill_null(pc.invert(pc.or_(is_true, is_false)), False)
        bad = pc.and_(bad, array.is_valid())
        _reject(name, array, bad, "not a boolean (true/false)", problems, lines)
        return pc.if_else(pc.or_(bad, array.is_null()), None, is_true)
    return _wrong_type(name, array, "a boolean", problems, lines)


def _to_time(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    """Timestamps: RFC 3339 text (no offset = UTC), epoch milliseconds, or Arrow timestamps.

    A time outside the accepted range (``TRAFFIC``'s time rule) is a bad value, checked
    before any cast: Arrow would store it, but no reader could turn it back into a date.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.timestamp("ms", tz="UTC")
    if pa.types.is_timestamp(array.type) or pa.types.is_integer(array.type):
        array = _reject_out_of_range(name, array, problems, lines)
        if pa.types.is_integer(array.type):
            return array.cast(pa.int64()).cast(target)
        if array.type.tz is None:
            array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))
        return array.cast(target, safe=False)
    if not _is_text(array):
        return _wrong_type(name, array, "a timestamp", problems, lines)
    fast = _fast.times(array, MIN_TIME_MS, MAX_TIME_MS)
    if fast is not None:
        return fast
    array = _blank_to_null(array)
    epoch = pc.fill_null(pc.match_substring_regex(array, _INT_RE), False)
    if pc.any(epoch).as_py():
        # Mixed JSON input (strings and integers) arrives as text: digits are epoch ms.
        millis = _to_time(name, pc.if_else(epoch, array, None).cast(pa.int64()), problems, lines)
        rest = _to_time(name, pc.if_else(epoch, None, array), problems, lines)
        return pc.coalesce(millis, rest)
    shape_ok = pc.match_substring_regex(array, _TIME_RE + "(" + _OFFSET_RE[:-1] + ")?$")
    bad = pc.fill_null(pc.invert(shape_ok), False)
    array = _reject(name, array, bad, "not an RFC 3339 timestamp", problems, lines)
    has_offset = pc.fill_null(pc.match_substring_regex(array, _OFFSET_RE), False)
    text = pc.replace_substring_regex(array, "[zZ]$", "+00:00")
    try:
        parsed = _parse_times(text, has_offset)
    except pa.ArrowInvalid:
        # Some value is not a real instant (month 13) or lies beyond nanosecond timestamps
        # (after 2262): parse those one by one.
        parsed = _parse_each(name, text, problems, lines)
    millis = parsed.cast(pa.int64())
    outside = pc.or_(pc.less(millis, MIN_TIME_MS), pc.greater(millis, MAX_TIME_MS))
    outside = pc.fill_null(outside, False)
    _reject(name, array, outside, f"outside {TIME_RANGE_TEXT}", problems, lines)
    return pc.if_else(outside, None, parsed)


def _reject_out_of_range(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    """Null and report values breaking the time rule (before any cast could wrap them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bad = TRAFFIC.check_values(name, array, problems, lines)
    return array if bad is None else pc.if_else(pa.array(bad), None, array)


def _parse_each(name: str, text: Any, problems: Problems, lines: Any) -> Any:
    """Parse RFC 3339 strings one at a time with Python (any year 1..9999); report bad ones."""
    import datetime as dt

    import pyarrow as pa

    values = text.to_pylist()
    out: list[int | None] = []
    bad = [False] * len(values)
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            moment = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
        except ValueError:
            out.append(None)
            bad[i] = True
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        out.append(delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)
    problems.add(bad, name, lambda i: f"not a valid date-time: {values[i]!r}", lines)
    return pa.array(out, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


def _parse_times(array: Any, has_offset: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.timestamp("ms", tz="UTC")
    with_offset = pc.if_else(has_offset, array, None).cast(pa.timestamp("ns", tz="UTC"))
    naive = (
        pc.if_else(has_offset, None, array)
        .cast(pa.timestamp("ns"))
        .cast(pa.timestamp("ns", tz="UTC"))
    )
    merged = pc.coalesce(with_offset, naive)
    return merged.cast(target, safe=False)


def _to_list(name: str, array: Any, problems: Problems, lines: Any) -> Any:
    """Capabilities: a list of strings, or one string of ';'-separated names ('' = none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.list_(pa.string())
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        value_type = array.type.value_type
        if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
            return array.cast(target)
        if pa.types.is_null(value_type):
            return array.cast(target)
        return _wrong_type(name, array, "a list of capability names", problems, lines)
    fast = _fast.capability_lists(array)
    if fast is not None:
        return fast
    if _is_text(array):
        trimmed = pc.utf8_trim_whitespace(array.cast(pa.string()))
        empty = pc.fill_null(pc.equal(trimmed, ""), False)
        split = pc.split_pattern(pc.if_else(empty, None, trimmed), ";")
        parts = pc.utf8_trim_whitespace(pc.list_flatten(split))
        rebuilt = pa.ListArray.from_arrays(split.offsets, parts, mask=split.is_null())
        return pc.if_else(empty, pa.scalar([], target), rebuilt)
    return _wrong_type(name, array, "a list of capability names", problems, lines)
