"""The fast path of the canonical JSON Lines reader: DuckDB parses, strict checks decide.

DuckDB's JSON reader (``read_json`` with every canonical column typed ``JSON``) streams the
whole file once, on its own threads, and hands over each field's JSON text. DuckDB is more
lenient than the JSON grammar (RFC 8259) and than the exact reader: it skips blank lines,
accepts ``NaN``, ``Infinity`` and trailing commas, ignores unknown keys and keeps the first of
repeated keys. So a block of lines takes the values DuckDB read only when cheap checks on the
block's bytes and on those values prove the exact reader would read the same thing:

- no backslash (no escapes to compare), no comma before a closing bracket, every line
  starting with ``{`` (so no blank line was skipped and rows stay aligned with lines);
- per line, the number of ``"`` equals two per key DuckDB found plus those inside the values:
  an unknown, repeated or null-valued key adds quotes DuckDB did not report;
- every value has the JSON type of its column: a quoted string for text and times, a plain
  integer of at most 18 digits, a plain number, ``true``/``false``, an array of strings (or a
  string) for capabilities. ``"600"`` for an integer, ``true`` for a number, ``NaN`` or
  ``Infinity`` anywhere fail here.

Any other block goes to the exact line-by-line reader, which names every bad line. Once DuckDB
itself refuses the file (malformed JSON, an object over its size limit) or a line does not
start with ``{``, the rest of the file is read exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexusctl.traffic.schema import TRAFFIC

_BLANKS = [ord(" "), ord("\t"), ord("\r")]
_INT = r"^-?[0-9]{1,18}$"
_FLOAT = r"^-?[0-9]{1,17}(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,2})?$"
_STRINGS = r'^\[("[^"]*"(,"[^"]*")*)?\]$'
_BATCH_ROWS = 1 << 14


class DuckLines:
    """DuckDB's reading of a JSON Lines file, handed out block by block in file order."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._reader: Any = None
        self._con: Any = None
        self._pending: list[Any] = []
        self._held = 0
        self.broken = False

    def _open(self) -> None:
        import duckdb

        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false")  # it would write to stdout
        columns = {c.name: "JSON" for c in TRAFFIC.columns}
        self._reader = self._con.sql(
            "SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?, "
            "maximum_object_size = 16777216)",
            params=[str(self._path), columns],
        ).to_arrow_reader(_BATCH_ROWS)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self._reader = None
        self._pending = []

    def _take(self, rows: int) -> Any:
        """The next ``rows`` rows DuckDB read, as one table, or None once DuckDB failed."""
        import duckdb
        import pyarrow as pa

        try:
            if self._reader is None:
                self._open()
            while self._held < rows:
                batch = self._reader.read_next_batch()
                self._pending.append(batch)
                self._held += batch.num_rows
        except (duckdb.Error, StopIteration, pa.ArrowException):
            self._fail()
            return None
        table = pa.Table.from_batches(self._pending)
        rest = table.slice(rows)
        self._pending, self._held = rest.to_batches(), rest.num_rows
        return table.slice(0, rows).combine_chunks()

    def _fail(self) -> None:
        self.broken = True
        self.close()

    def columns(self, block: bytes, rows: int) -> dict[str, Any] | None:
        """The canonical columns of ``block`` (``rows`` lines), or None: read it exactly."""
        import numpy as np

        if self.broken:
            return None
        data = np.frombuffer(block, np.uint8)
        ends = np.flatnonzero(data == 10)
        starts = np.concatenate(([0], ends + 1))[:rows]
        if len(starts) != rows or (data[starts] != ord("{")).any():
            self._fail()  # a blank or odd line: DuckDB's rows and the lines part ways
            return None
        table = self._take(rows)
        if table is None:
            return None
        if b"\\" in block or _trailing_comma(data):
            return None
        quotes = np.flatnonzero(data == 34)
        bounds = np.searchsorted(quotes, np.concatenate((starts, [len(block)])))
        nulls = _null_keys(block, data, quotes, starts, table)
        if nulls is None:
            return None
        return _checked(table, np.diff(bounds) - 2 * nulls, rows)


def _trailing_comma(data: Any) -> bool:
    """Whether a comma is followed (after at most a few blanks) by ``}`` or ``]``."""
    import numpy as np

    at = np.flatnonzero(data == ord(","))
    at = at[at + 1 < len(data)] + 1
    for _ in range(4):
        blank = np.isin(data[at], _BLANKS)
        if not blank.any():
            break
        at = at[blank] + 1
        at = at[at < len(data)]
    else:
        return True  # long runs of blanks after commas: leave the block to the exact reader
    return bool(((data[at] == ord("}")) | (data[at] == ord("]"))).any())


def _null_keys(block: bytes, data: Any, quotes: Any, starts: Any, table: Any) -> Any:
    """Per line, how many known keys are written with a null value; None when unsure.

    DuckDB reads ``"key":null`` as absent, so its quotes are not in DuckDB's count. Only the
    compact ``"key":null`` is counted (``": null`` is not, so its quotes make the line's count
    disagree and the block is read exactly); each such key must be a known column and
    DuckDB's value there must be null (else the key is repeated).
    """
    import numpy as np

    rows = len(starts)
    if b'":null' not in block:
        return np.zeros(rows, dtype=np.int64)
    colons = np.flatnonzero(data == ord(":"))
    colons = colons[(colons > 0) & (colons + 5 < len(data))]
    at = colons[(data[colons - 1] == ord('"')) & (data[colons + 1] == ord("n"))] + 1
    if not (
        (data[at + 1] == ord("u")) & (data[at + 2] == ord("l")) & (data[at + 3] == ord("l"))
    ).all():
        return None
    after = np.searchsorted(quotes, at)
    close, open_ = quotes[after - 1], quotes[after - 2]
    line = np.searchsorted(starts, at, side="right") - 1
    length = close - open_ - 1
    known = np.zeros(len(at), dtype=bool)
    for name in table.column_names:
        group = np.flatnonzero(length == len(name))
        if not len(group):
            continue
        keys = data[open_[group, None] + 1 + np.arange(len(name))]
        hit = group[(keys == np.frombuffer(name.encode(), np.uint8)).all(axis=1)]
        known[hit] = True
        if table.column(name).is_valid().to_numpy(zero_copy_only=False)[line[hit]].any():
            return None  # the key is repeated: DuckDB kept a non-null value
    if not known.all():
        return None  # an unknown key
    return np.bincount(line, minlength=rows)


def _checked(table: Any, line_quotes: Any, rows: int) -> dict[str, Any] | None:
    """Convert DuckDB's JSON texts to typed columns, or None when any check fails."""
    import numpy as np
    import pyarrow.compute as pc

    expected = np.zeros(rows, dtype=np.int64)
    out: dict[str, Any] = {}
    for name in table.column_names:
        text = table.column(name)
        if hasattr(text, "combine_chunks"):
            text = text.combine_chunks()
        text = text.cast("string")
        valid = text.is_valid().to_numpy(zero_copy_only=False)
        expected += 2 * valid
        if text.null_count == rows:
            continue
        kind = TRAFFIC.kind(name)
        if kind in ("string", "timestamp"):
            expected += 2 * valid  # checked below to be quoted; no backslash, no inner quote
        elif kind == "list<string>":
            quotes = pc.fill_null(pc.count_substring(text, '"'), 0)
            expected += quotes.to_numpy(zero_copy_only=False)
        value = _typed(kind, text)
        if value is None:
            return None
        out[name] = value
    if not np.array_equal(expected, line_quotes):
        return None  # an unknown, repeated or null-valued key
    return out


def _all(mask: Any) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.fill_null(mask, True)).as_py())


def _typed(kind: str, text: Any) -> Any:
    """The values of one column as the exact reader would build them, or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind in ("string", "timestamp"):
        return _unquoted(text)
    if kind == "int64":
        return text.cast(pa.int64()) if _all(pc.match_substring_regex(text, _INT)) else None
    if kind == "float64":
        return text.cast(pa.float64()) if _all(pc.match_substring_regex(text, _FLOAT)) else None
    if kind == "bool":
        if not _all(pc.match_substring_regex(text, "^(true|false)$")):
            return None
        return pc.equal(text, "true")
    if kind == "list<string>":
        if _all(pc.starts_with(text, '"')):
            return _unquoted(text)
        if not _all(pc.match_substring_regex(text, _STRINGS)):
            return None
        empty = pc.equal(text, "[]")
        inner = pc.if_else(empty, None, pc.utf8_slice_codeunits(text, 2, -2))
        split = pc.split_pattern(inner, '","')
        target = pa.list_(pa.string())
        filled = pc.if_else(pc.and_(empty, text.is_valid()), pa.scalar([], target), split)
        return filled.cast(target)
    return None


def _unquoted(text: Any) -> Any:
    import pyarrow.compute as pc

    if not _all(pc.starts_with(text, '"')):
        return None
    return pc.utf8_slice_codeunits(text, 1, -1)
