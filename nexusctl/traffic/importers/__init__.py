"""``nexusctl traffic import``: read a format, convert, enrich, label, validate, write.

The pipeline is the same for every format: the reader returns loosely typed columns keyed by
canonical name (``RawTraffic``); each is converted to its canonical type (bad values become
row problems); the enrichment spec fills missing attributes; the format's documented defaults
fill what is still absent; quality labels are joined; ``validate_table`` checks every rule.
Any invalid row rejects the file (nothing written) unless ``skip_invalid``, which drops and
counts those rows and records the count in the output metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError, UsageError
from nexusctl.traffic.importers._raw import RawTraffic
from nexusctl.traffic.schema import COLUMN_KIND, COLUMNS, DEFAULT_MAX_PROBLEMS, Problems

FORMATS = ("azure", "otel", "litellm", "canonical")
#: Pseudo-column named in problems about a row that could not be read at all.
ROW_COLUMN = "record"


@dataclass(frozen=True)
class ImportOptions:
    """How to import: enrichment spec, quality labels, what to do with invalid rows."""

    enrich: Path | None = None
    quality: Path | None = None
    quality_format: str = "routellm-gsm8k"
    skip_invalid: bool = False
    max_problems: int = DEFAULT_MAX_PROBLEMS


@dataclass(frozen=True)
class ImportResult:
    """What an import produced."""

    rows: int
    skipped: int
    problems_text: str
    metadata: dict[str, Any]


def _reader(fmt: str) -> Callable[[Path], RawTraffic]:
    if fmt == "azure":
        from nexusctl.traffic.importers.azure import read_azure

        return read_azure
    if fmt == "otel":
        from nexusctl.traffic.importers.otel import read_otel

        return read_otel
    if fmt == "litellm":
        from nexusctl.traffic.importers.litellm import read_litellm

        return read_litellm
    if fmt == "canonical":
        from nexusctl.traffic.importers.canonical import read_canonical

        return read_canonical
    raise UsageError(f"unknown format {fmt!r}", hint="formats: " + ", ".join(FORMATS))


def build_traffic(
    fmt: str, src: Path, options: ImportOptions
) -> tuple[Any, dict[str, Any], Problems]:
    """Import ``src`` into a canonical ``pyarrow.Table`` (invalid rows dropped only when
    ``options.skip_invalid``); return (table, metadata, problems).

    Raises:
        TrafficError: invalid rows (without skip_invalid), missing columns, empty input.
        PolicyLoadError: the enrichment spec is invalid (file:line:col).
    """
    import numpy as np
    import pyarrow as pa

    from nexusctl.traffic._coerce import coerce_column
    from nexusctl.traffic.enrich import enrich_columns, load_enrichment
    from nexusctl.traffic.quality import load_quality
    from nexusctl.traffic.schema import traffic_schema, validate_table

    reader = _reader(fmt)
    if fmt == "azure" and options.enrich is None:
        from nexusctl.traffic.importers.azure import NEEDS_ENRICHMENT

        raise TrafficError(
            f"{src}: the Azure trace records only time and token counts; "
            f"{', '.join(NEEDS_ENRICHMENT)} must come from an enrichment spec (--enrich SPEC.yaml)",
            hint="see docs/traffic.md; example: policies/nebula/enrichment/azure-code.yaml",
        )
    spec, spec_record = load_enrichment(options.enrich) if options.enrich else (None, None)
    labels = load_quality(options.quality, options.quality_format) if options.quality else None

    raw = reader(src)
    n = raw.n_rows
    if n == 0:
        raise TrafficError(f"{src}: no requests in the file (header only?)")
    lines = raw.lines
    problems = Problems(n)
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
        columns = enrich_columns(spec, columns, n)
    if labels is not None:
        small, large = labels.for_rows(n)
        for name, values in (("small_model_correct", small), ("large_model_correct", large)):
            current = columns.get(name)
            filled = pa.array(values)
            columns[name] = filled if current is None else current.fill_null(filled)
    arrays = [_complete(src, fmt, name, columns.get(name), raw, n) for name, _, _ in COLUMNS]
    table = pa.Table.from_arrays(arrays, schema=traffic_schema())
    checked = validate_table(table, lines)
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
        kept = [
            p for p in problems.items if p.column == ROW_COLUMN or p.row - 1 not in raw.unparsable
        ]
        problems.total -= len(problems.items) - len(kept)
        problems.items = kept
    skipped = problems.bad_rows
    if skipped and not options.skip_invalid:
        raise TrafficError(
            problems.summary(str(src), options.max_problems),
            hint="fix these rows, or pass --skip-invalid to skip them (they are counted)",
        )
    if skipped:
        table = table.filter(pa.array(~problems.bad))
    if table.num_rows == 0:
        raise TrafficError(f"{src}: every row is invalid; nothing to write")
    metadata = {
        "source": src.name,
        "source_sha256": _sha256(src),
        "importer": fmt,
        "import": raw.details,
        "enrichment": spec_record,
        "quality": labels.record if labels else None,
        "rows_read": n,
        "rows": table.num_rows,
        "skipped_invalid": skipped,
        "skipped_rows": (np.flatnonzero(problems.bad)[:1000] + 1).tolist(),
    }
    return table, metadata, problems


def _complete(src: Path, fmt: str, name: str, array: Any, raw: RawTraffic, n: int) -> Any:
    """Fill an absent or partly missing column with the format's default, or refuse."""
    import pyarrow as pa

    from nexusctl.traffic._coerce import _arrow_type
    from nexusctl.traffic.schema import REQUIRED_COLUMNS

    kind = COLUMN_KIND[name]
    default = raw.defaults.get(name)
    if array is None:
        if default is not None:
            return (
                pa.array([default] * n, _arrow_type(kind))
                if kind == "list<string>"
                else (pa.repeat(pa.scalar(default, _arrow_type(kind)), n))
            )
        if name in REQUIRED_COLUMNS:
            raise TrafficError(
                f"{src}: missing required column {name!r}: the {fmt} source does not record "
                "it and no enrichment spec sets it",
                hint="add it to the source, or fill it with an enrichment spec (--enrich)",
            )
        return pa.nulls(n, _arrow_type(kind))
    if default is not None and array.null_count:
        return array.fill_null(pa.scalar(default, _arrow_type(kind)))
    return array


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_traffic(fmt: str, src: Path, out: Path, options: ImportOptions) -> ImportResult:
    """Import ``src`` (format ``fmt``) into the canonical Parquet file ``out``.

    Raises:
        TrafficError: see ``build_traffic``; nothing is written.
        EnvironmentError_: the output cannot be written.
    """
    from nexusctl.traffic._io import write_traffic

    table, metadata, problems = build_traffic(fmt, src, options)
    rows = write_traffic(out, [table], metadata)
    text = problems.summary(str(src), options.max_problems) if problems.bad_rows else ""
    return ImportResult(rows, problems.bad_rows, text, metadata)
