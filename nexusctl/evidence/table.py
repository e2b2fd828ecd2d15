"""Decision records as Arrow tables: build, scan for secrets, and hash into Merkle leaves.

The leaf of a record is ``SHA-256(0x00 || RFC 8785 bytes)``. ``canonical_json`` builds those
bytes for a whole table with Arrow string kernels (columns in sorted key order, strings quoted
and escaped, integers in decimal, nulls as ``null``): a Python loop per record would cost ten
times more. Rows holding a control character (never valid, but a tampered file may hold one)
are re-encoded exactly by :func:`nexusctl.evidence.record.record_bytes`.
``test_evidence_record`` holds both paths to ``nexusctl.canonical.canonical_bytes``.

``RECORDS`` is the decision-record table's entry among the declared Arrow tables
(``nexusctl.tables``): its columns (alias, kind, nullable) are derived from ``DecisionRecord``,
the one declaration of a record, so the segment schema cannot drift from the model; the value
rules stay the model's JSON Schema, applied to whole columns by ``nexusctl.evidence.columns``.
"""

from __future__ import annotations

import hashlib
import itertools
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from nexusctl.errors import InputError
from nexusctl.evidence.record import (
    ALIASES,
    COLUMNS,
    LEAK_PATTERN,
    DecisionRecord,
    record_bytes,
)
from nexusctl.tables import Column, Kind, TableSpec

if TYPE_CHECKING:
    import pyarrow as pa

_CONTROL = r"[\x00-\x1f]"
#: Rows encoded at once: bounds the memory of the canonical text (about 1 KiB per record).
CHUNK_ROWS = 65_536


def _kind(annotation: Any) -> tuple[Kind, bool]:
    """The column kind and nullability of a DecisionRecord field's annotation."""
    nullable = False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        nullable = type(None) in args
        annotation = next(a for a in args if a is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    base = typing.get_origin(annotation)
    if base is tuple:
        return "list<string>", nullable
    if base is Literal:
        return ("int64" if isinstance(typing.get_args(annotation)[0], int) else "string"), nullable
    return ("int64" if annotation is int else "string"), nullable


def _record_columns() -> tuple[Column, ...]:
    columns = []
    for name, info in DecisionRecord.model_fields.items():
        kind, nullable = _kind(info.annotation)
        columns.append(Column(info.alias or name, kind, nullable))
    return tuple(columns)


#: The decision-record segment table: one column per alias, in field order.
RECORDS = TableSpec("evidence_records", _record_columns())


def records_table(records: Sequence[DecisionRecord]) -> pa.Table:
    """Return validated records as a table in the segment schema (columns named by alias)."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {alias: [] for alias in ALIASES}
    for record in records:
        values = record.__dict__
        for name, alias in COLUMNS:
            columns[alias].append(values[name])
    return pa.table(columns, schema=RECORDS.arrow_schema())


def check_no_secrets(table: pa.Table, where: str) -> None:
    """Refuse a table whose string values look like credentials.

    Raises:
        InputError: naming the first offending row and field.
    """
    checked_leaf_hashes(table, where)


def checked_leaf_hashes(table: pa.Table, where: str) -> bytes:
    """Refuse secret-shaped values, then return the leaf hashes.

    Raises:
        InputError: naming the first offending row and field.
    """
    out = bytearray()
    for start in range(0, table.num_rows, CHUNK_ROWS):
        chunk = table.slice(start, CHUNK_ROWS)
        _name_secret(chunk, start, where)
        out += _hash_chunk(chunk)
    return bytes(out)


def _hash_all(canonical: list[bytes]) -> bytes:
    sha = hashlib.sha256
    return b"".join(sha(b"\x00" + data).digest() for data in canonical)


def _name_secret(table: pa.Table, first: int, where: str) -> None:
    """Scan every string value (not the keys) for secret shapes; raise naming the first."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for alias in ALIASES:
        column = table.column(alias).combine_chunks()
        if pa.types.is_list(column.type):
            column = pc.binary_join(column, " ")
        if not pa.types.is_string(column.type) or column.null_count == len(column):
            continue
        hits = pc.fill_null(pc.match_substring_regex(column, LEAK_PATTERN), False)
        if pc.any(hits).as_py():
            row = first + pc.index(hits, True).as_py()
            raise InputError(
                f"{where}: record {row + 1}: field {alias!r} looks like a secret (API key, "
                "token or key material); evidence never stores credentials"
            )


def _text(value: str) -> Any:
    """An Arrow string scalar: passing Python strings to kernels costs an import per call."""
    import pyarrow as pa

    return pa.scalar(value, pa.string())


def _escaped(values: Any) -> Any:
    import pyarrow.compute as pc

    # Escaping is only needed where a quote or backslash occurs (never in a valid record, but
    # a tampered file may hold one): one scan of the value bytes rules both out, else a
    # literal search per character, cheaper than a rewrite.
    if not _has_byte(values, b'"\\'):
        return values
    for special, escaped in (("\\", "\\\\"), ('"', '\\"')):
        if pc.any(pc.match_substring(values, special)).as_py():
            values = pc.replace_substring(values, special, escaped)
    return values


def _has_byte(values: Any, wanted: bytes) -> bool:
    """Whether any of ``wanted``'s bytes occurs under a string array (buffers scanned whole:
    a slice's buffer may hold bytes outside it, so a hit only means "look closer")."""
    import numpy as np

    data = values.buffers()[2]
    if data is None or not data.size:
        return False
    view = np.frombuffer(data, np.uint8)
    return any(bool((view == byte).any()) for byte in wanted)


def _quoted(values: Any) -> Any:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(_text('"'), _escaped(values), _text('"'), _text(""))


def _json_values(column: Any) -> Any:
    """Return each value of a column as its JSON text (``null`` for null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_list(column.type):
        items = _quoted(column.values)
        rebuilt = pa.ListArray.from_arrays(column.offsets, items, mask=column.is_null())
        joined = pc.binary_join(rebuilt, _text(","))
        text = pc.binary_join_element_wise(_text("["), joined, _text("]"), _text(""))
    elif pa.types.is_string(column.type):
        text = _quoted(column)
    else:
        text = pc.cast(column, pa.string())
    return pc.fill_null(text, _text("null")) if column.null_count else text


def _joined(table: pa.Table, prefix: str = "") -> Any:
    """Return the canonical JSON of every row as one Arrow string array (clean rows exact).

    Keys, and columns that are null in every row, are literal text: consecutive literals are
    merged, so only columns that hold values cost a kernel pass. ``prefix`` starts every row
    (the leaf hash's 0x00 byte, so rows can be hashed straight from the Arrow buffer).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[Any] = []
    literal = prefix
    for index, alias in enumerate(sorted(ALIASES)):
        literal += ("{" if index == 0 else ",") + f'"{alias}":'
        column = table.column(alias)
        if column.null_count == len(column):
            literal += "null"
            continue
        if column.null_count == 0 and pa.types.is_string(column.type):
            # No null to spell: the quotes join the literals, saving a pass over the column.
            parts += [_text(literal + '"'), _escaped(column.combine_chunks())]
            literal = '"'
            continue
        parts += [_text(literal), _json_values(column)]
        literal = ""
    parts.append(_text(literal + "}"))
    return pc.binary_join_element_wise(*parts, _text(""))


def _has_control(table: pa.Table) -> Any:
    """Mark rows with a control character in any string value (values only: the keys are
    constant, and scanning them would triple the bytes read)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dirty = pa.array([False] * table.num_rows, pa.bool_())
    for alias in ALIASES:
        column = table.column(alias)
        if not _may_hold_control(column):
            continue
        if pa.types.is_list(column.type):
            column = pc.binary_join(column, _text(""))
        if pa.types.is_string(column.type) and column.null_count < len(column):
            found = pc.fill_null(pc.match_substring_regex(column, _CONTROL), False)
            dirty = pc.or_(dirty, found)
    return dirty


def _may_hold_control(column: Any) -> bool:
    """Whether any byte under a string (or list of strings) column is below 0x20.

    One vectorised pass over the value bytes; a chunk's buffer may hold bytes outside a slice,
    so a hit only sends the column to the exact, per-row regex check.
    """
    import numpy as np
    import pyarrow as pa

    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        values = chunk.values if pa.types.is_list(chunk.type) else chunk
        if not pa.types.is_string(values.type):
            return False
        data = values.buffers()[2]
        if data is not None and data.size and np.frombuffer(data, np.uint8).min() < 0x20:
            return True
    return False


def canonical_json(table: pa.Table) -> list[bytes]:
    """Return the RFC 8785 bytes of every record of a segment-schema table, in row order."""
    out: list[bytes] = []
    for start in range(0, table.num_rows, CHUNK_ROWS):
        out += _canonical_chunk(table.slice(start, CHUNK_ROWS))
    return out


def _canonical_chunk(table: pa.Table) -> list[bytes]:
    if table.num_rows == 0:
        return []
    return _canonical_of(table, _joined(table))


def _canonical_of(table: pa.Table, joined: Any) -> list[bytes]:
    import pyarrow.compute as pc

    out = [value.encode() for value in joined.to_pylist()]
    dirty = _has_control(table)
    if pc.any(dirty).as_py():
        rows = table.filter(dirty).to_pylist()
        for index, row in zip(pc.indices_nonzero(dirty).to_pylist(), rows, strict=True):
            out[index] = record_bytes(row)
    return out


def leaf_hashes(table: pa.Table) -> bytes:
    """Return the concatenated Merkle leaf hashes of every record of the table."""
    out = bytearray()
    for start in range(0, table.num_rows, CHUNK_ROWS):
        out += _hash_chunk(table.slice(start, CHUNK_ROWS))
    return bytes(out)


def _hash_chunk(table: pa.Table) -> bytes:
    """Hash clean rows straight from the canonical text's Arrow buffer (``0x00`` included).

    No Python string per record is made; a chunk with a control character anywhere takes the
    exact path through :func:`_canonical_of`.
    """
    import numpy as np
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return b""
    if pc.any(_has_control(table)).as_py():
        return _hash_all(_canonical_chunk(table))
    joined = _joined(table, "\x00")
    offsets = np.frombuffer(joined.buffers()[1], np.int32)
    bounds = offsets[joined.offset : joined.offset + len(joined) + 1].tolist()
    data = memoryview(joined.buffers()[2])
    sha = hashlib.sha256
    return b"".join([sha(data[a:b]).digest() for a, b in itertools.pairwise(bounds)])
