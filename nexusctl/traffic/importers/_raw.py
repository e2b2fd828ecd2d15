"""What every format reader hands to the import pipeline, and the streaming file readers.

Readers yield ``RawTraffic`` chunks of at most ``CHUNK_ROWS`` rows: CSV through Arrow's
streaming CSV reader, JSON Lines line by line, so memory does not grow with the file. A whole
JSON document (an OTLP export, a LiteLLM list) is read within ``MAX_DOCUMENT_BYTES``. JSON
nested deeper than Python's recursion limit, or holding integers of more than 4,300 digits, is
an invalid row (JSON Lines) or an invalid file, never a crash.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from nexusctl.errors import InputError, TrafficError
from nexusctl.traffic.parquet import require_regular_file

_CHUNK = 16 * 1024 * 1024
#: Rows per chunk a reader yields (the pipeline re-cuts them to exactly this many).
CHUNK_ROWS = 1 << 16
#: The longest line a JSON Lines reader holds: far above any request record (a gateway log
#: line with a large prompt is a few MB), far below what a line that never ends would take.
MAX_LINE_BYTES = 64 << 20
#: A JSON document read whole (OTel export, LiteLLM list) may be at most this large.
MAX_DOCUMENT_BYTES = 256 << 20
#: Bytes the CSV reader decodes at a time, which is also the longest row it can read. Arrow's
#: streaming CSV reader holds ~35 blocks at once (measured: 36, 71 and 142 MiB of its memory
#: pool after the first batch with blocks of 1, 2 and 4 MiB), so the block size sets most of a
#: CSV import's peak. A canonical or Azure row is a few hundred bytes: 1 MiB.
CSV_BLOCK = 1 << 20
#: LiteLLM spend-log exports may carry the prompt and the response in a row.
CSV_BLOCK_LARGE_ROWS = 4 << 20


@dataclass
class RawTraffic:
    """Source columns keyed by canonical name, loosely typed, plus where each row came from.

    ``lines`` holds each row's 1-based source line (CSV, JSONL) or locator, or is None.
    ``defaults`` are the values a format documents for a column it does not carry.
    ``unparsable`` are 0-based rows (of this chunk) that could not be read at all (their other
    problems are not repeated).
    """

    columns: dict[str, Any]
    n_rows: int
    lines: Any = None
    defaults: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    unparsable: dict[int, str] = field(default_factory=dict)
    #: (0-based row of this chunk, column, message) problems the reader found itself.
    row_problems: list[tuple[int, str, str]] = field(default_factory=list)


def open_check(path: Path) -> int:
    """Return the file's size; refuse a missing, special, unreadable or empty file.

    Raises:
        TrafficError: missing, a directory, a device or FIFO, or empty.
    """
    return require_regular_file(path, "file")


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
    """Read a whole UTF-8 text document of at most ``MAX_DOCUMENT_BYTES`` (BOM dropped).

    Raises:
        TrafficError: empty, special, too large or not UTF-8.
    """
    from nexusctl.files import read_bounded

    open_check(path)
    try:
        raw = read_bounded(path, MAX_DOCUMENT_BYTES, what="traffic document")
    except InputError as exc:
        raise TrafficError(str(exc), hint="export JSON Lines instead: they are streamed") from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        check_utf8(path)  # names the line
        raise TrafficError(f"{path}: not valid UTF-8") from None


def iter_csv_strings(path: Path, block: int = CSV_BLOCK) -> Iterator[tuple[Any, Any]]:
    """Stream a CSV file with a header row, every column as strings: (batch, lines) pairs.

    Row i (0-based, over the file) came from line i + 2. Fields may not contain newlines;
    blank lines are errors (they would shift every reported line number). A row may be at
    most ``block`` bytes long.

    Raises:
        TrafficError: empty, not UTF-8, no header, duplicate column names, malformed rows, a
            row longer than ``block``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    open_check(path)
    # Arrow checks every value is UTF-8 as it parses (check_utf8); only when it finds a bad
    # byte is the file streamed through the Python decoder, to name the line and column.
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline(1 << 20)
    except UnicodeDecodeError:
        check_utf8(path)
        raise TrafficError(f"{path}: not valid UTF-8") from None
    header = next(csv.reader([first]), [])
    if not header or all(not h.strip() for h in header):
        raise TrafficError(f"{path}:1: missing header row")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise TrafficError(f"{path}:1: duplicate column(s) in header: {', '.join(duplicates)}")
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8", block_size=block, use_threads=False),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        seen = 0
        for batch in rebatch(reader, CHUNK_ROWS):
            yield batch, np.arange(seen, seen + batch.num_rows, dtype=np.int64) + 2
            seen += batch.num_rows
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower():
            check_utf8(path)  # raises, naming the line and column of the first bad byte
        if "straddl" in str(exc):
            raise TrafficError(
                f"{path}: a CSV row is longer than {block >> 20} MiB (no traffic record is)",
                hint="is this a CSV file of request records, one per line?",
            ) from None
        raise TrafficError(f"{path}: malformed CSV: {_arrow_message(exc)}") from None


def rebatch(batches: Iterator[Any], rows: int) -> Iterator[Any]:
    """Re-cut a stream of record batches into tables of exactly ``rows`` rows (the last fewer)."""
    import pyarrow as pa

    pending: list[Any] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).combine_chunks()
            rest = table.slice(rows)
            pending = rest.to_batches()
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks()


def _arrow_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def parse_json(path: Path, text: str) -> Any:
    """Parse a JSON document; a syntax error names its line and column.

    Raises:
        TrafficError: not JSON (truncated, trailing data, NaN, too deep, huge integers).
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise TrafficError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise TrafficError(f"{path}: invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise TrafficError(f"{path}: invalid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_line(line: str | bytes) -> tuple[Any, str | None]:
    """Parse one JSON Lines record: (value, None), or (None, why it is not JSON)."""
    try:
        return json.loads(line, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at column {exc.colno}: {exc.msg}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"


def parse_json_lines(text: str) -> tuple[list[Any], list[int], dict[int, str]]:
    """Parse JSON Lines held in memory: (values, 1-based line of each, {row: error})."""
    numbered = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    values, errors = parse_lines([line for _, line in numbered])
    return values, [n for n, _ in numbered], errors


def parse_lines(lines: Sequence[str | bytes]) -> tuple[list[Any], dict[int, str]]:
    """Parse non-blank JSON Lines records: (values, {row: why it is not JSON})."""
    values: list[Any] = []
    errors: dict[int, str] = {}
    for row, line in enumerate(lines):
        value, error = parse_json_line(line)
        if error is not None:
            errors[row] = error
        values.append(value)
    return values, errors


def iter_line_blocks(path: Path) -> Iterator[tuple[bytes, int]]:
    """Stream a JSON Lines file as blocks of whole lines: (bytes, first line number).

    As ``iter_counted_line_blocks``, without the line counts.

    Raises:
        TrafficError: empty, special or not UTF-8 (naming the line of the first bad byte).
    """
    for block, first_line, _ in iter_counted_line_blocks(path):
        yield block, first_line


def iter_counted_line_blocks(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """Stream a JSON Lines file as blocks of whole lines: (bytes, first line number, lines).

    The file is read in pieces of 16 MiB, each cut after its last newline; a block of more
    than ``CHUNK_ROWS`` lines (short lines) is cut further at every ``CHUNK_ROWS``-th newline,
    found with NumPy, so a block never holds more lines than a chunk. ``lines`` counts the
    block's lines (a last line without a newline included). A leading UTF-8 byte-order mark
    is dropped. Each piece is checked to be UTF-8 as it is read (ASCII pieces at memory
    speed), before any block holding it is handed out.

    Raises:
        TrafficError: empty, special or not UTF-8 (naming the line of the first bad byte).
    """
    for block in iter_line_spans(path):
        assert block.data is not None
        yield block.data, block.first_line, block.lines


@dataclass(frozen=True)
class LineBlock:
    """A block of whole lines: where it starts in the file, its size, its first line number,
    how many lines it holds, and its bytes (None when they were not kept).
    """

    offset: int
    size: int
    first_line: int
    lines: int
    data: bytes | None


def iter_line_spans(path: Path, *, keep_data: bool = True) -> Iterator[LineBlock]:
    """The blocks of ``iter_counted_line_blocks`` with their byte offsets in the file.

    The cuts depend only on the file's bytes, so a reader that parses the blocks elsewhere
    (worker processes, ``_split``, which pass ``keep_data=False``) gets exactly the chunks
    this process would. The file is read into one reused buffer: only a kept block is copied.

    Raises:
        TrafficError: empty, special or not UTF-8 (naming the line of the first bad byte).
    """
    open_check(path)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    first_line = 1
    piece = bytearray(_CHUNK)
    with path.open("rb") as fh:
        head = fh.read(3)
        carry = head.removeprefix(b"\xef\xbb\xbf")  # the start of a line not yet ended
        offset = len(head) - len(carry)  # of carry's first byte in the file
        _check_piece(path, decoder, carry, final=False)
        while True:
            size = fh.readinto(piece)
            read = piece if size == _CHUNK else piece[:size]
            _check_piece(path, decoder, read, final=not size)
            if not size:
                break
            # The block ends at the last newline of carry + read, as if they were one string.
            last = read.rfind(b"\n")
            if last >= 0:
                before, end, rest = carry, last + 1, bytes(read[last + 1 :])
            else:
                held = carry.rfind(b"\n")  # only the file's first bytes can hold one here
                if held < 0:
                    if len(carry) + size > MAX_LINE_BYTES:
                        raise TrafficError(
                            f"{path}:{first_line}: line is longer than "
                            f"{MAX_LINE_BYTES >> 20} MiB (no JSON Lines record is)",
                            hint="is this a JSON Lines file? each record ends with a newline",
                        )
                    carry += read  # one line longer than a piece: read on
                    continue
                before, end, rest = carry[: held + 1], 0, carry[held + 1 :] + read
            data = b"".join((before, memoryview(read)[:end])) if keep_data else None
            for start, stop, lines in _line_ends(before, read, end):
                part = None if data is None else data[start:stop]
                yield LineBlock(offset + start, stop - start, first_line, lines, part)
                first_line += lines
            offset += len(before) + end
            carry = rest
    if carry.strip():
        kept = carry if keep_data else None
        yield LineBlock(offset, len(carry), first_line, carry.count(b"\n") + 1, kept)


def _line_ends(carry: bytes, read: bytearray, end: int) -> list[tuple[int, int, int]]:
    """Cut ``carry + read[:end]`` (whole lines) into parts of at most ``CHUNK_ROWS`` lines:
    (start, stop, lines) relative to the block's first byte.

    ``carry`` is what was read before: the start of a line, or the file's first bytes (which
    may hold whole lines).
    """
    import numpy as np

    is_newline = np.frombuffer(read, np.uint8, count=end) == 10
    early = [i for i, byte in enumerate(carry) if byte == 10] if b"\n" in carry else []
    lines = len(early) + int(np.count_nonzero(is_newline))  # 2x faster than bytearray.count
    total = len(carry) + end
    if lines <= CHUNK_ROWS:
        return [(0, total, lines)]
    newlines = np.concatenate(
        [np.array(early, dtype=np.int64), np.flatnonzero(is_newline) + len(carry)]
    )
    parts = []
    start = 0
    for index in range(CHUNK_ROWS - 1, len(newlines), CHUNK_ROWS):
        stop = int(newlines[index]) + 1
        parts.append((start, stop, CHUNK_ROWS))
        start = stop
    if start < total:
        parts.append((start, total, len(newlines) % CHUNK_ROWS))
    return parts


def _check_piece(path: Path, decoder: Any, piece: bytes | bytearray, *, final: bool) -> None:
    """Feed ``piece`` to the streaming UTF-8 check; on a bad byte, name its line and column."""
    if piece.isascii() and not decoder.getstate()[0] and not final:
        return
    try:
        decoder.decode(piece, final=final)
    except UnicodeDecodeError:
        check_utf8(path)  # raises, naming the line and column
        raise TrafficError(f"{path}: not valid UTF-8") from None


def split_lines(block: bytes, first_line: int) -> tuple[list[bytes], list[int]]:
    """A block's non-blank lines and their 1-based numbers."""
    lines: list[bytes] = []
    numbers: list[int] = []
    for offset, line in enumerate(block.removesuffix(b"\n").split(b"\n")):
        if line.strip():
            lines.append(line)
            numbers.append(first_line + offset)
    return lines, numbers


def iter_json_lines(path: Path) -> Iterator[tuple[list[Any], list[int], dict[int, str]]]:
    """Stream a JSON Lines file in chunks of ``CHUNK_ROWS`` records.

    Yields (values, 1-based line of each, {row of the chunk: error}). Blank lines are skipped.
    An unparsable line becomes a None row with its error, so that ``--skip-invalid`` can skip
    and count it like any other invalid row.

    Raises:
        TrafficError: empty, special or not UTF-8.
    """
    for block, first_line in iter_line_blocks(path):
        lines, numbers = split_lines(block, first_line)
        values, errors = parse_lines(lines)
        yield values, numbers, errors


_END = object()
_Chunk = TypeVar("_Chunk")


def prefetched(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """Yield ``chunks`` while a background thread already reads the next one.

    Arrow's CSV and JSON parsers release the GIL, so on two cores the next chunk is parsed
    while this one is converted and checked. At most one chunk waits in the hand-over slot
    (memory stays bounded). A reader error is raised here, after the chunks before it, as
    without the thread; leaving the loop early stops the reader after its current chunk and
    closes it.
    """
    import queue
    import threading

    slot: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: Any, error: BaseException | None) -> bool:
        while not stop.is_set():
            try:
                slot.put((item, error), timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk, None):
                    return
            hand_over(_END, None)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(None, exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=produce, name="traffic-reader", daemon=True)
    reader.start()
    try:
        while True:
            item, error = slot.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield cast(_Chunk, item)
    finally:
        stop.set()
        reader.join()
