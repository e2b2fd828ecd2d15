"""``nexusctl traffic import / synth / inspect``: thin adapters over nexusctl.traffic."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import traffic_app
from nexusctl.cli._common import TextOrJson, handle_errors, stderr_console, write_stdout
from nexusctl.errors import UsageError

#: Shown in --help; the value is nexusctl.traffic.parquet.DEFAULT_MAX_ROWS (not imported here:
#: --help must not import the traffic package's heavy dependencies).
_MAX_ROWS_HELP = (
    "Refuse a Parquet file whose footer declares more rows than this (default 20,000,000); "
    "the uncompressed-size cap (8 GiB) scales with it."
)


@traffic_app.command("import")
@handle_errors
def import_(
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="Source format: azure | otel | litellm | litellm-payload | canonical | mooncake.",
        ),
    ],
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The file to import.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file (canonical).")],
    enrich: Annotated[
        Path | None,
        typer.Option(
            "--enrich", help="Enrichment spec (YAML) filling attributes the source lacks."
        ),
    ] = None,
    quality: Annotated[
        Path | None, typer.Option("--quality", help="Labelled set to join quality labels from.")
    ] = None,
    quality_format: Annotated[
        str, typer.Option("--quality-format", help="Format of --quality: routellm-gsm8k.")
    ] = "routellm-gsm8k",
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Skip invalid rows (counted and reported) instead of failing."
        ),
    ] = False,
    max_problems: Annotated[
        int, typer.Option("--max-problems", min=1, help="How many problems to list.")
    ] = 20,
    max_rows: Annotated[int | None, typer.Option("--max-rows", min=1, help=_MAX_ROWS_HELP)] = None,
    hash_key_env: Annotated[
        str | None,
        typer.Option(
            "--hash-key-env",
            metavar="NAME",
            help="Environment variable holding the HMAC-SHA256 key for user identifiers "
            "(LiteLLM end_user/user). Without it they are dropped; raw ids are never stored.",
        ),
    ] = None,
    prefix_cache_blocks: Annotated[
        int | None,
        typer.Option(
            "--prefix-cache-blocks",
            min=1,
            metavar="N",
            help="mooncake: derive cached_input_tokens by replaying the block hashes through an "
            "LRU prefix cache of N blocks (capacity N x --block-tokens tokens).",
        ),
    ] = None,
    block_tokens: Annotated[
        int,
        typer.Option(
            "--block-tokens", min=1, help="mooncake: tokens per hashed block (the traces: 512)."
        ),
    ] = 512,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="TIME",
            help="mooncake: the RFC 3339 time of the trace's timestamp 0 "
            "(default 2026-01-05T09:00:00Z).",
        ),
    ] = None,
) -> None:
    """Import recorded traffic into the canonical Parquet table.

    Invalid rows are listed with their row and source line numbers.

    Any invalid row rejects the file (exit 3, nothing written) unless --skip-invalid.

    --skip-invalid skips, lists and counts them (the count is in the output metadata).

    litellm reads spend logs; litellm-payload reads callback payloads (StandardLoggingPayload).

    A token count the source does not report (cached, reasoning) is never a silent 0: it is
    warned about with the share of rows, listed per row in unreported_tokens and recorded in the
    metadata (traffic inspect shows it).

    The Azure trace has no tenant, app or data class: it needs --enrich (docs/traffic.md).

    mooncake reads the Mooncake (FAST'25) traces: block hash ids per request. With
    --prefix-cache-blocks the cached input tokens are derived by an LRU prefix cache replayed
    in time order instead of drawn; it needs --enrich for the rest.

    Every format is read in chunks (memory does not grow with the file); a Parquet source is
    refused before reading when its footer declares more than --max-rows rows.
    """
    from nexusctl.traffic.importers import ImportOptions, import_traffic
    from nexusctl.traffic.parquet import read_limits

    result = import_traffic(
        fmt,
        src,
        out,
        ImportOptions(
            enrich=enrich,
            quality=quality,
            quality_format=quality_format,
            skip_invalid=skip_invalid,
            max_problems=max_problems,
            limits=read_limits(max_rows),
            hash_key=_hash_key(hash_key_env),
            prefix_cache_blocks=prefix_cache_blocks,
            block_tokens=block_tokens,
            start_ms=_epoch_ms(start),
        ),
    )
    for warning in result.warnings:
        stderr_console().print(f"warning: {warning}", markup=False, highlight=False)
    if result.skipped:
        stderr_console().print(
            f"warning: skipped {result.skipped} invalid row(s)\n{result.problems_text}",
            markup=False,
            highlight=False,
        )
    write_stdout(f"imported {result.rows} row(s) ({result.skipped} skipped) from {src} -> {out}")


def _epoch_ms(text: str | None) -> int | None:
    if text is None:
        return None
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--start {text!r}: not an RFC 3339 time", hint="e.g. 2026-01-05T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def _hash_key(name: str | None) -> bytes | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise UsageError(
            f"--hash-key-env {name}: the environment variable is not set or empty",
            hint=f"export {name}=<a secret of at least 32 random bytes>",
        )
    return value.encode("utf-8")


@traffic_app.command("synth")
@handle_errors
def synth(
    rows: Annotated[int, typer.Option("--rows", min=0, help="How many requests to generate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    rate: Annotated[
        float, typer.Option("--rate", min=0.001, help="Mean arrival rate, requests per second.")
    ] = 20.0,
    policy: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy",
            help="Derive the mix from these policies (every route gets traffic) instead of "
            "the built-in Nebula mix.",
        ),
    ] = None,
) -> None:
    """Generate seeded synthetic traffic (bursty arrivals, heavy-tailed tokens, labels).

    The built-in mix exercises every route, guardrail and escalation of the Nebula policies.

    --policy derives the mix from the given policies: every route (and the default) gets
    requests drawn from its own match (apps, use cases, classes, capabilities, ranges).
    Same rows and seed, same file.
    """
    from nexusctl.traffic.synth import write_synth

    written = write_synth(out, rows, seed, rate=rate, policies=list(policy or []))
    write_stdout(f"wrote {written} synthetic request(s) (seed {seed}) -> {out}")


@traffic_app.command("inspect")
@handle_errors
def inspect(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A canonical traffic Parquet file.")],
    fmt: Annotated[TextOrJson, typer.Option("--format", "-f", help="text | json.")] = (
        TextOrJson.text
    ),
    max_rows: Annotated[int | None, typer.Option("--max-rows", min=1, help=_MAX_ROWS_HELP)] = None,
) -> None:
    """Check a traffic file, then summarise it: counts, tokens, time span, arrivals, mix.

    An invalid file is refused with exit 3 and its problems (row and column), exactly as the
    importer and simulate would refuse it; a summary is only printed for a valid file.
    """
    from nexusctl.traffic.inspect import inspect_traffic, render_text
    from nexusctl.traffic.parquet import read_limits

    summary = inspect_traffic(file, limits=read_limits(max_rows))
    if fmt == "json":
        write_stdout(json.dumps(summary, indent=2, sort_keys=True))
    else:
        write_stdout(render_text(summary))
