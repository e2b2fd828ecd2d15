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

import contextlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError, UsageError
from nexusctl.traffic.importers._raw import RawTraffic
from nexusctl.traffic.parquet import ReadLimits
from nexusctl.traffic.schema import DEFAULT_MAX_PROBLEMS, TRAFFIC, Problems

FORMATS = ("azure", "otel", "litellm", "litellm-payload", "canonical", "mooncake")
#: Formats whose reader emits every column it maps (null where a record lacks it): a required
#: column is missing when no row holds a value, not when the column is absent.
_MAPPED = ("otel", "litellm", "litellm-payload")
#: Values that satisfy the rules, for the example spec a hint prints (docs/traffic.md).
_EXAMPLE: dict[str, str] = {
    "tenant": "{constant: default}",
    "app": "{constant: default}",
    "use_case": "{constant: general}",
    "data_class": "{constant: internal}",
    "residency_class": "{constant: global}",
    "risk_class": "{constant: low}",
    "capabilities": "{constant: []}",
    "complexity": "{constant: 0.5}",
    "confidence": "{constant: 1.0}",
}


@dataclass(frozen=True)
class ImportOptions:
    """How to import: enrichment spec, quality labels, invalid rows, Parquet read caps."""

    enrich: Path | None = None
    quality: Path | None = None
    quality_format: str = "routellm-gsm8k"
    skip_invalid: bool = False
    max_problems: int = DEFAULT_MAX_PROBLEMS
    limits: ReadLimits = field(default_factory=ReadLimits)
    #: HMAC-SHA256 key for user identifiers (LiteLLM ``end_user``/``user``); without it those
    #: identifiers are dropped (counted in the metadata), never stored raw.
    hash_key: bytes | None = field(default=None, repr=False)
    #: Mooncake traces: derive cached_input_tokens with an LRU prefix cache of this many
    #: blocks of ``block_tokens`` tokens (None: cached tokens come from the enrichment spec).
    prefix_cache_blocks: int | None = None
    block_tokens: int = 512
    #: Mooncake traces: the wall-clock time (epoch ms) of the trace's timestamp 0.
    start_ms: int | None = None


@dataclass(frozen=True)
class ImportResult:
    """What an import produced."""

    rows: int
    skipped: int
    problems_text: str
    metadata: dict[str, Any]
    problems: Problems
    #: One line per thing the user must know: token counts not reported, ids dropped.
    warnings: tuple[str, ...] = ()


def _reader(fmt: str, options: ImportOptions) -> Callable[[Path], Iterator[RawTraffic]]:
    if fmt == "azure":
        from nexusctl.traffic.importers.azure import read_azure

        return read_azure
    if fmt == "otel":
        from nexusctl.traffic.importers.otel import read_otel

        return read_otel
    if fmt == "litellm":
        from nexusctl.traffic.importers.litellm import read_litellm

        return lambda path: read_litellm(path, options.hash_key)
    if fmt == "litellm-payload":
        from nexusctl.traffic.importers.litellm_payload import read_litellm_payload

        return lambda path: read_litellm_payload(path, options.hash_key)
    if fmt == "canonical":
        from nexusctl.traffic.importers.canonical import read_canonical

        return lambda path: read_canonical(path, options.limits)
    if fmt == "mooncake":
        from nexusctl.traffic.importers.mooncake import PrefixCache, read_mooncake
        from nexusctl.traffic.synth import DEFAULT_START_MS

        blocks = options.prefix_cache_blocks
        cache = None if blocks is None else PrefixCache(blocks, options.block_tokens)
        start = DEFAULT_START_MS if options.start_ms is None else options.start_ms
        return lambda path: read_mooncake(path, cache, start)
    raise UsageError(f"unknown format {fmt!r}", hint="formats: " + ", ".join(FORMATS))


def import_traffic(fmt: str, src: Path, out: Path, options: ImportOptions) -> ImportResult:
    """Import ``src`` (format ``fmt``) into the canonical Parquet file ``out``, streaming.

    Raises:
        TrafficError: invalid rows (without skip_invalid), missing columns, empty input, a
            Parquet footer over the caps; nothing is written.
        PolicyLoadError: the enrichment spec is invalid (file:line:col).
        EnvironmentError_: the output cannot be written.
    """
    reader = _reader(fmt, options)
    _check_mooncake_options(fmt, options)
    if fmt == "mooncake" and options.enrich is None:
        raise TrafficError(
            f"{src}: the Mooncake trace records only time, token counts and block hashes; "
            "tenant, app, use case, classes, capabilities and complexity must come from an "
            "enrichment spec (--enrich SPEC.yaml)",
            hint="see docs/traffic.md (Mooncake traces)",
        )
    if fmt == "azure" and options.enrich is None:
        from nexusctl.traffic.importers.azure import NEEDS_ENRICHMENT

        raise TrafficError(
            f"{src}: the Azure trace records only time and token counts; "
            f"{', '.join(NEEDS_ENRICHMENT)} must come from an enrichment spec (--enrich SPEC.yaml)",
            hint="see docs/traffic.md; example: policies/nebula/enrichment/azure-code.yaml",
        )
    spec, spec_record, provided = _enrichment(options.enrich)
    labels = None
    if options.quality:
        from nexusctl.traffic.quality import load_quality

        labels = load_quality(options.quality, options.quality_format)
    # The reader starts before the pipeline's modules load (NumPy, pyarrow, pandas; ~0.5 s
    # of CPU): a large JSON Lines file's parse worker boots meanwhile.
    chunks = reader(src)
    from nexusctl.traffic._io import TrafficWriter
    from nexusctl.traffic.importers._pipeline import (
        Checked,
        copy_valid,
        load_modules,
        not_reported,
        report_duplicates,
        stage,
    )

    checked = Checked()
    with _closed_after(chunks), _Digest(src) as digest, TrafficWriter(out, None) as writer:
        load_modules()
        stage(chunks, spec, labels, writer, checked, options.skip_invalid)
        if checked.rows == 0:
            raise TrafficError(f"{src}: no requests in the file (header only?)")
        given = set(checked.defaults) | provided
        _require_columns(
            src, fmt, [n for n in TRAFFIC.required if n not in checked.seen_columns | given]
        )
        # A mapped format emits every column; the ones no row carries explain its bad rows.
        absent = [n for n in TRAFFIC.required if n not in checked.present | given]
        not_written = checked.problems.bad.copy()
        report_duplicates(checked)
        problems = checked.problems
        skipped = problems.bad_rows
        hint = "fix these rows, or pass --skip-invalid to skip them (they are counted)"
        if fmt in _MAPPED and absent:
            hint = _enrich_hint(fmt, absent)
        if skipped and not options.skip_invalid:
            raise TrafficError(problems.summary(str(src), options.max_problems), hint=hint)
        if skipped == checked.rows:
            raise TrafficError(f"{src}: every row is invalid; nothing to write", hint=hint)
        metadata = {
            "source": src.name,
            "source_sha256": digest.hexdigest(),
            "importer": fmt,
            "import": checked.details,
            "enrichment": spec_record,
            "quality": labels.record if labels else None,
            "rows_read": checked.rows,
            "rows": checked.rows - skipped,
            "skipped_invalid": skipped,
            "skipped_rows": _first_bad_rows(problems),
            "not_reported": not_reported(checked, problems.bad, checked.defaults),
        }
        repeats = (problems.bad & ~not_written)[~not_written]
        if repeats.any():
            # Repeated request_ids show only after the last chunk: copy the written rows
            # without them (the one case that takes a second pass).
            writer.close()
            with TrafficWriter(out, None) as again:
                copy_valid(writer.temporary, repeats, again)
                again.publish(metadata)
        else:
            writer.publish(metadata)
    text = problems.summary(str(src), options.max_problems) if skipped else ""
    warnings = _warnings(src, metadata)
    return ImportResult(checked.rows - skipped, skipped, text, metadata, problems, warnings)


def _enrichment(path: Path | None) -> tuple[Any, Any, set[str]]:
    """The spec at ``path``, its record and the columns it fills; (None, None, set()) without.

    The enrichment models (pydantic) are imported only when a spec is given: a plain import
    of canonical rows does not pay for them.
    """
    if path is None:
        return None, None, set()
    from nexusctl.traffic.enrich import load_enrichment, provides

    spec, record = load_enrichment(path)
    return spec, record, provides(spec)


def _check_mooncake_options(fmt: str, options: ImportOptions) -> None:
    """Refuse the Mooncake-only options on another format, and nonsense values."""
    given = options.prefix_cache_blocks is not None or options.start_ms is not None
    if fmt != "mooncake" and given:
        raise UsageError("--prefix-cache-blocks and --start apply to the mooncake format only")
    if options.prefix_cache_blocks is not None and options.prefix_cache_blocks < 1:
        raise UsageError("--prefix-cache-blocks must be at least 1")
    if options.block_tokens < 1:
        raise UsageError("--block-tokens must be at least 1")


def _require_columns(src: Path, fmt: str, missing: list[str]) -> None:
    """Refuse an import whose required columns no source column, default or spec provides."""
    if not missing:
        return
    names = ("column " if len(missing) == 1 else "columns ") + ", ".join(map(repr, missing))
    raise TrafficError(
        f"{src}: missing required {names}: the {fmt} source does not record it and no "
        "enrichment spec sets it",
        hint=_enrich_hint(fmt, missing),
    )


def _enrich_hint(fmt: str, absent: list[str]) -> str:
    """Name ``--enrich`` and print the shortest spec that fills the ``absent`` attributes."""
    fillable = [name for name in absent if name in _EXAMPLE]
    if fmt == "otel":
        where = "no span carries " + ", ".join(absent) + " (nexus.* span or resource attributes)"
    else:
        where = f"no {fmt} record carries " + ", ".join(absent)
    if not fillable:
        return where + "; add them to the source (docs/traffic.md lists what each format reads)"
    example = "\n".join(f"    {_camel(name)}: {_EXAMPLE[name]}" for name in fillable)
    return (
        f"{where}; declare them in an enrichment spec and pass --enrich SPEC.yaml. The shortest "
        "spec that works (edit the values):\n"
        "apiVersion: nexuscore.io/v1\nkind: TrafficEnrichment\n"
        "metadata: {name: defaults, version: 1}\nspec:\n  seed: 1\n  attributes:\n" + example
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _warnings(src: Path, metadata: dict[str, Any]) -> tuple[str, ...]:
    out = []
    for name, seen in (metadata.get("not_reported") or {}).items():
        out.append(
            f"{src}: {name} not reported for {seen['rows']} of {metadata['rows']} row(s) "
            f"({seen['share']:.1%}); resolved as {seen['resolved_as']} and listed in "
            "unreported_tokens"
            + (
                " (declare cachedShare in an enrichment spec to estimate it)"
                if name == "cached_input_tokens"
                else " (reasoning tokens, if any, stay counted in output_tokens)"
            )
        )
    dropped = (metadata.get("import") or {}).get("user_ids_dropped")
    if dropped:
        out.append(
            f"{src}: dropped {dropped} end_user/user identifier(s): no hash key given "
            "(--hash-key-env); raw identifiers are never stored"
        )
    return tuple(out)


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


@contextlib.contextmanager
def _closed_after(chunks: Iterator[RawTraffic]) -> Iterator[None]:
    """Close the reader on leaving (an error stops its worker processes at once)."""
    try:
        yield
    finally:
        close = getattr(chunks, "close", None)  # generators and the worker-parsed reader
        if close is not None:
            close()


def _first_bad_rows(problems: Problems) -> list[int]:
    import numpy as np

    return [int(r) for r in (np.flatnonzero(problems.bad)[:1000] + 1)]


def _sha256(path: Path, stop: threading.Event | None = None) -> str | None:
    """The file's SHA-256 in hex; None when ``stop`` was set before the end of the file."""
    import hashlib

    from nexusctl.files import open_regular

    digest = hashlib.sha256()
    with open_regular(path, what="traffic file") as handle:
        while chunk := handle.read(1 << 20):
            if stop is not None and stop.is_set():
                return None
            digest.update(chunk)
    return digest.hexdigest()


class _Digest:
    """The source's SHA-256, computed in a background thread while the rows are imported.

    hashlib releases the GIL on large updates, so on two cores the hash costs no wall time.
    Only a regular file is hashed ahead; anything else is left to the reader to refuse. When
    the import fails, the hash stops at its next chunk: an error on line 3 of a huge file does
    not wait for the rest of the file to be read.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool: Any = None
        self._future: Any = None
        self._stop = threading.Event()

    def __enter__(self) -> _Digest:
        if self._path.is_file():
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traffic-sha256")
            self._future = self._pool.submit(_sha256, self._path, self._stop)
        return self

    def hexdigest(self) -> str:
        """The digest (raises what hashing raised)."""
        digest = self._future.result() if self._future is not None else _sha256(self._path)
        assert digest is not None  # only a failed import stops the hash, and asks for no digest
        return digest

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
