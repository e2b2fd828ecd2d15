"""``nexusctl traffic import``: read a format, convert, enrich, label, validate, write.

The pipeline is the same for every format and streams (``_pipeline``): the reader yields
loosely typed columns keyed by canonical name (``RawTraffic``) a chunk at a time; each column
is converted to its canonical type (bad values become row problems); the enrichment spec fills
missing attributes; the format's documented defaults fill what is still absent; quality labels
are joined; ``validate_rows`` checks every declared rule and, at the end, ``request_id`` must
be unique over the file. Any invalid row rejects the file (nothing written) unless
``skip_invalid``, which drops and counts those rows and records the count in the metadata.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError, UsageError
from nexusctl.traffic.importers._raw import RawTraffic
from nexusctl.traffic.parquet import ReadLimits
from nexusctl.traffic.schema import DEFAULT_MAX_PROBLEMS, TRAFFIC, Problems

FORMATS = ("azure", "otel", "litellm", "canonical")


@dataclass(frozen=True)
class ImportOptions:
    """How to import: enrichment spec, quality labels, invalid rows, Parquet read caps."""

    enrich: Path | None = None
    quality: Path | None = None
    quality_format: str = "routellm-gsm8k"
    skip_invalid: bool = False
    max_problems: int = DEFAULT_MAX_PROBLEMS
    limits: ReadLimits = field(default_factory=ReadLimits)


@dataclass(frozen=True)
class ImportResult:
    """What an import produced."""

    rows: int
    skipped: int
    problems_text: str
    metadata: dict[str, Any]
    problems: Problems


def _reader(fmt: str, limits: ReadLimits) -> Callable[[Path], Iterator[RawTraffic]]:
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

        return lambda path: read_canonical(path, limits)
    raise UsageError(f"unknown format {fmt!r}", hint="formats: " + ", ".join(FORMATS))


def import_traffic(fmt: str, src: Path, out: Path, options: ImportOptions) -> ImportResult:
    """Import ``src`` (format ``fmt``) into the canonical Parquet file ``out``, streaming.

    Raises:
        TrafficError: invalid rows (without skip_invalid), missing columns, empty input, a
            Parquet footer over the caps; nothing is written.
        PolicyLoadError: the enrichment spec is invalid (file:line:col).
        EnvironmentError_: the output cannot be written.
    """
    from nexusctl.traffic._io import TrafficWriter
    from nexusctl.traffic.enrich import load_enrichment, provides
    from nexusctl.traffic.importers._pipeline import Checked, copy_valid, report_duplicates, stage
    from nexusctl.traffic.quality import load_quality

    reader = _reader(fmt, options.limits)
    if fmt == "azure" and options.enrich is None:
        from nexusctl.traffic.importers.azure import NEEDS_ENRICHMENT

        raise TrafficError(
            f"{src}: the Azure trace records only time and token counts; "
            f"{', '.join(NEEDS_ENRICHMENT)} must come from an enrichment spec (--enrich SPEC.yaml)",
            hint="see docs/traffic.md; example: policies/nebula/enrichment/azure-code.yaml",
        )
    spec, spec_record = load_enrichment(options.enrich) if options.enrich else (None, None)
    labels = load_quality(options.quality, options.quality_format) if options.quality else None
    checked = Checked()
    with TrafficWriter(out, None, staging=True) as staging:
        stage(reader(src), spec, labels, staging, checked)
        staging.close()
        if checked.rows == 0:
            raise TrafficError(f"{src}: no requests in the file (header only?)")
        filled = checked.seen_columns | set(checked.defaults) | (provides(spec) if spec else set())
        for name in TRAFFIC.required:
            if name not in filled:
                raise TrafficError(
                    f"{src}: missing required column {name!r}: the {fmt} source does not "
                    "record it and no enrichment spec sets it",
                    hint="add it to the source, or fill it with an enrichment spec (--enrich)",
                )
        report_duplicates(checked)
        problems = checked.problems
        skipped = problems.bad_rows
        if skipped and not options.skip_invalid:
            raise TrafficError(
                problems.summary(str(src), options.max_problems),
                hint="fix these rows, or pass --skip-invalid to skip them (they are counted)",
            )
        if skipped == checked.rows:
            raise TrafficError(f"{src}: every row is invalid; nothing to write")
        metadata = {
            "source": src.name,
            "source_sha256": _sha256(src),
            "importer": fmt,
            "import": checked.details,
            "enrichment": spec_record,
            "quality": labels.record if labels else None,
            "rows_read": checked.rows,
            "rows": checked.rows - skipped,
            "skipped_invalid": skipped,
            "skipped_rows": _first_bad_rows(problems),
        }
        with TrafficWriter(out, metadata) as writer:
            copy_valid(staging.temporary, problems.bad, writer)
            writer.publish()
    text = problems.summary(str(src), options.max_problems) if skipped else ""
    return ImportResult(checked.rows - skipped, skipped, text, metadata, problems)


def build_traffic(
    fmt: str, src: Path, options: ImportOptions
) -> tuple[Any, dict[str, Any], Problems]:
    """Import ``src`` and return (table, metadata, problems) instead of keeping a file.

    For tests and small inputs: the whole result is read into memory.

    Raises:
        TrafficError: as ``import_traffic``.
    """
    import json

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="nexusctl-import-") as folder:
        out = Path(folder) / "traffic.parquet"
        result = import_traffic(fmt, src, out, options)
        table = pq.read_table(out)
    table = table.replace_schema_metadata(None)
    return table, json.loads(json.dumps(result.metadata)), result.problems


def _first_bad_rows(problems: Problems) -> list[int]:
    import numpy as np

    return [int(r) for r in (np.flatnonzero(problems.bad)[:1000] + 1)]


def _sha256(path: Path) -> str:
    from nexusctl.files import sha256_file

    return sha256_file(path, what="traffic file")
