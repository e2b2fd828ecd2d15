"""The streaming import: each chunk converted, enriched, labelled, validated and written.

One pass: the valid rows of each chunk go straight into the output's temporary file (beside
the output, moved into place only when the whole file has been checked). Memory is bounded by
one chunk (``CHUNK_ROWS`` rows) plus, per row, one byte of bad-row mask, the request_id (for
the file-wide uniqueness check) and the source line. A refused import removes the temporary
file, so nothing is written. Only ``--skip-invalid`` over a file with repeated request_ids,
found after the last chunk, costs a second pass that copies the rows minus the repeats.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusctl.traffic.importers._raw import CHUNK_ROWS, RawTraffic
from nexusctl.traffic.schema import TRAFFIC, UNREPORTABLE_TOKENS, Problems

#: Pseudo-column named in problems about a row that could not be read at all.
ROW_COLUMN = "record"


@dataclass
class Checked:
    """What the chunks added up to: rows read, problems, the columns any source chunk held."""

    rows: int = 0
    problems: Problems = field(default_factory=lambda: TRAFFIC.problems(0))
    seen_columns: set[str] = field(default_factory=set)
    ids: list[Any] = field(default_factory=list)
    #: Per chunk, a 64-bit hash of each non-null request_id (``id_hashes``).
    id_hashes: list[Any] = field(default_factory=list)
    lines: list[tuple[int, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Columns at least one source row gave a value (a reader may emit all-null columns).
    present: set[str] = field(default_factory=set)
    #: Per unreportable token column, one flag per row: the source did not report it.
    unreported: dict[str, list[Any]] = field(default_factory=dict)


def cut(chunks: Iterable[RawTraffic]) -> Iterator[RawTraffic]:
    """Cut oversized chunks (a whole JSON document) into pieces of ``CHUNK_ROWS`` rows."""
    for raw in chunks:
        if raw.n_rows <= CHUNK_ROWS:
            yield raw
            continue
        for start in range(0, raw.n_rows, CHUNK_ROWS):
            yield _slice(raw, start, min(start + CHUNK_ROWS, raw.n_rows))


def _slice(raw: RawTraffic, start: int, stop: int) -> RawTraffic:
    return RawTraffic(
        columns={name: array.slice(start, stop - start) for name, array in raw.columns.items()},
        n_rows=stop - start,
        lines=None if raw.lines is None else raw.lines[start:stop],
        defaults=raw.defaults,
        details=raw.details,
        unparsable={r - start: m for r, m in raw.unparsable.items() if start <= r < stop},
        row_problems=[(r - start, c, m) for r, c, m in raw.row_problems if start <= r < stop],
    )


def load_modules() -> None:
    """Load what checking a chunk needs, before the first chunk is there.

    ~0.4 s of CPU that the first ``check_chunk`` would otherwise spend, most of it pandas,
    which pyarrow imports on its first conversion of a Python value (when pandas is
    installed). Done while a parse worker starts, it costs no wall time.
    """
    import pyarrow as pa
    import pyarrow.compute

    import nexusctl.traffic._coerce
    import nexusctl.traffic.schema  # noqa: F401

    pa.array([0])


def check_chunk(
    raw: RawTraffic, offset: int, chunk: int, spec: Any, labels: Any
) -> tuple[Any, Problems, dict[str, Any]]:
    """Convert, enrich, label and validate one chunk.

    Returns its canonical batch, its problems and, per token column resolved by the format's
    default, the mask of rows whose source did not report it.
    """
    import numpy as np
    import pyarrow as pa

    from nexusctl.traffic._coerce import coerce_column
    from nexusctl.traffic.schema import traffic_schema, validate_rows

    n, lines = raw.n_rows, raw.lines
    problems = TRAFFIC.problems(n, offset)
    if raw.unparsable:
        mask = np.zeros(n, dtype=bool)
        mask[list(raw.unparsable)] = True
        problems.add(mask, ROW_COLUMN, lambda i: raw.unparsable[i], lines)
    for row, column, message in raw.row_problems:
        mask = np.zeros(n, dtype=bool)
        mask[row] = True
        problems.add(mask, column, message, lines)
    columns = {name: coerce_column(name, arr, problems, lines) for name, arr in raw.columns.items()}
    if spec is not None:
        # Only an import with a spec pays for the enrichment models (pydantic).
        from nexusctl.traffic.draw import enrich_columns

        columns = enrich_columns(spec, columns, n, chunk)
    if labels is not None:
        small, large = labels.for_rows(n, offset)
        for name, values in (("small_model_correct", small), ("large_model_correct", large)):
            current = columns.get(name)
            filled = pa.array(values)
            columns[name] = filled if current is None else current.fill_null(filled)
    unreported = unreported_masks(columns, raw.defaults, n)
    if unreported:
        columns["unreported_tokens"] = flag_list(unreported, n)
    arrays = [_complete(name, columns.get(name), raw.defaults, n) for name in TRAFFIC.names]
    batch = pa.RecordBatch.from_arrays(arrays, schema=traffic_schema())
    checked = validate_rows(batch, lines, offset)
    # A value that failed conversion is null now; do not report it missing a second time.
    converted = {(p.row, p.column) for p in problems.items}
    repeated = [
        p for p in checked.items if p.message == "missing value" and (p.row, p.column) in converted
    ]
    repeated_set = set(repeated)
    problems.items.extend(p for p in checked.items if p not in repeated_set)
    problems.total += checked.total - len(repeated)
    problems.bad |= checked.bad
    if raw.unparsable:
        # An unreadable record is reported once, not once per column it lacks.
        unreadable = {offset + r + 1 for r in raw.unparsable}
        kept = [p for p in problems.items if p.column == ROW_COLUMN or p.row not in unreadable]
        problems.total -= len(problems.items) - len(kept)
        problems.items = kept
    return batch, problems, unreported


def unreported_masks(columns: dict[str, Any], defaults: dict[str, Any], n: int) -> dict[str, Any]:
    """Per token column: the rows whose source did not report it.

    A row is flagged when the format resolves the column by its default and the value is
    absent (read after enrichment, so a count the spec declared with ``cachedShare`` is not
    flagged), or when the source itself already flagged it (a re-imported canonical file).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    given = columns.get("unreported_tokens")
    masks: dict[str, Any] = {}
    for name in UNREPORTABLE_TOKENS:
        mask = np.zeros(n, dtype=bool)
        if name in defaults:
            array = columns.get(name)
            mask |= True if array is None else array.is_null().to_numpy(zero_copy_only=False)
        if given is not None and pa.types.is_list(given.type):
            hits = pc.fill_null(pc.equal(pc.list_flatten(given), name), False)
            parents = pc.list_parent_indices(given).to_numpy(zero_copy_only=False)
            mask[parents[hits.to_numpy(zero_copy_only=False)]] = True
        if mask.any():
            masks[name] = mask
    return masks


def flag_list(masks: dict[str, Any], n: int) -> Any:
    """The ``unreported_tokens`` column: per row the names whose mask is set, null if none."""
    import numpy as np
    import pyarrow as pa

    names = list(masks)
    grid = np.stack([masks[name] for name in names], axis=1)
    counts = grid.sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = np.broadcast_to(np.array(names, dtype=object), grid.shape)[grid]
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values, pa.string()), mask=pa.array(counts == 0)
    )


def _complete(name: str, array: Any, defaults: dict[str, Any], n: int) -> Any:
    """Fill an absent or partly missing column with the format's default, else nulls."""
    import pyarrow as pa

    from nexusctl.tables import arrow_type

    kind = TRAFFIC.kind(name)
    default = defaults.get(name)
    if array is None:
        if default is None:
            return pa.nulls(n, arrow_type(kind))
        if kind == "list<string>":
            return pa.array([default] * n, arrow_type(kind))
        return pa.repeat(pa.scalar(default, arrow_type(kind)), n)
    if default is not None and array.null_count:
        return array.fill_null(pa.scalar(default, arrow_type(kind)))
    return array


def stage(
    chunks: Iterable[RawTraffic],
    spec: Any,
    labels: Any,
    writer: Any,
    checked: Checked,
    skip_invalid: bool,
) -> None:
    """Check every chunk and append its valid canonical rows to ``writer``.

    Without ``skip_invalid`` the first bad row dooms the import: the remaining chunks are
    still checked (every problem is reported) but no longer written.
    """
    import numpy as np
    import pyarrow as pa

    for index, raw in enumerate(cut(chunks)):
        if raw.n_rows == 0:
            continue
        batch, problems, unreported = check_chunk(raw, checked.rows, index, spec, labels)
        checked.seen_columns.update(raw.columns)
        checked.present.update(
            name for name, array in raw.columns.items() if array.null_count < raw.n_rows
        )
        for name in UNREPORTABLE_TOKENS:
            mask = unreported.get(name)
            flags = checked.unreported.setdefault(name, [])
            flags.append(np.zeros(raw.n_rows, dtype=bool) if mask is None else mask)
        checked.details = raw.details
        checked.defaults = raw.defaults
        checked.problems.extend(problems)
        checked.ids.append(batch.column("request_id"))
        checked.id_hashes.append(id_hashes(batch.column("request_id")))
        checked.lines.append((checked.rows, raw.lines))
        checked.rows += raw.n_rows
        if not skip_invalid and checked.problems.total:
            continue
        writer.write(batch.filter(pa.array(~problems.bad)) if problems.bad.any() else batch)


def not_reported(checked: Checked, bad: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """Per unreported token column over the written rows: rows, share, the value used."""
    import numpy as np

    kept = int((~bad).sum())
    out: dict[str, Any] = {}
    for name, masks in sorted(checked.unreported.items()):
        rows = int((np.concatenate(masks) & ~bad).sum()) if masks else 0
        if rows:
            out[name] = {
                "rows": rows,
                "share": round(rows / kept, 6) if kept else 0.0,
                "resolved_as": defaults.get(name),
            }
    return out


def id_hashes(ids: Any) -> Any:
    """A 64-bit hash of each non-null id (Python's string hash, which is keyed per process).

    Hashed chunk by chunk while the import streams, so that the file-wide uniqueness check
    after the last chunk is a sort of 8 bytes per row: equal ids have equal hashes, so when
    no two hashes are equal no id repeats. Only when two are equal (a repeated id, or a hash
    collision: about 3e-8 for 1M ids) does the exact check run over the ids themselves.
    """
    import numpy as np

    present = ids.drop_null()
    return np.fromiter(
        map(hash, present.to_numpy(zero_copy_only=False)), np.int64, count=len(present)
    )


def report_duplicates(checked: Checked) -> None:
    """Add the file-wide unique-request_id problems to ``checked.problems``."""
    import numpy as np
    import pyarrow as pa

    from nexusctl.traffic.schema import report_duplicates as find

    if not checked.ids:
        return
    hashes = np.sort(np.concatenate(checked.id_hashes))
    if not (hashes[1:] == hashes[:-1]).any():
        return  # no two ids are equal (see id_hashes)
    found = TRAFFIC.problems(checked.rows)
    lines = None if all(lines is None for _, lines in checked.lines) else _Lines(checked.lines)
    find(pa.chunked_array(checked.ids), found, lines)
    if found.total:
        problems = checked.problems
        problems.items.extend(found.items)
        problems.total += found.total
        problems.bad |= found.bad


class _Lines:
    """Source lines of every chunk, indexed by 0-based row over the whole file."""

    def __init__(self, chunks: list[tuple[int, Any]]) -> None:
        self._starts = [start for start, _ in chunks]
        self._chunks = [lines for _, lines in chunks]

    def __getitem__(self, row: int) -> Any:
        k = bisect.bisect_right(self._starts, row) - 1
        lines = self._chunks[k]
        return None if lines is None else lines[row - self._starts[k]]


def copy_valid(staged: Path, bad: Any, writer: Any) -> None:
    """Copy the rows of the written file ``staged`` whose ``bad`` flag is clear to ``writer``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nexusctl.traffic.schema import traffic_schema

    start = 0
    source = pq.ParquetFile(staged, pre_buffer=False)
    for batch in source.iter_batches(batch_size=CHUNK_ROWS):
        keep = ~bad[start : start + batch.num_rows]
        start += batch.num_rows
        valid = batch if keep.all() else batch.filter(pa.array(keep))
        writer.write(pa.RecordBatch.from_arrays(valid.columns, schema=traffic_schema()))
