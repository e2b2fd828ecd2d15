"""``nexusctl evidence ...``: thin adapters over nexusctl.evidence (docs/evidence.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from nexusctl.cli._apps import evidence_app
from nexusctl.cli._common import (
    TableCsvJson,
    TextOrJson,
    handle_errors,
    stderr_console,
    write_stdout,
)
from nexusctl.cli._engine import ConfOpt, EvidenceEngine, EvidenceEngineOpt, MasterOpt
from nexusctl.errors import UsageError, VerificationError

if TYPE_CHECKING:
    import pyarrow as pa

    from nexusctl.evidence.objectstore import StoreRoot
    from nexusctl.evidence.store import Kind
    from nexusctl.evidence.verify import VerifyReport

StoreArg = Annotated[
    str,
    typer.Argument(
        metavar="STORE",
        help="The evidence store: a directory, or s3://BUCKET/PREFIX (credentials, region and "
        "endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, "
        "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).",
    ),
]
TextOrJsonOpt = Annotated[TextOrJson, typer.Option("--format", "-f", help="text | json.")]


def store_root(text: str) -> StoreRoot:
    """Resolve a store argument; S3 settings come from the standard AWS variables."""
    import os

    from nexusctl.evidence.objectstore import S3Options, is_url, open_location

    if not is_url(text):
        return open_location(text, S3Options())
    env = os.environ
    options = S3Options(
        endpoint=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        access_key=env.get("AWS_ACCESS_KEY_ID"),
        secret_key=env.get("AWS_SECRET_ACCESS_KEY"),
        session_token=env.get("AWS_SESSION_TOKEN"),
    )
    return open_location(text, options)


@evidence_app.command("keygen")
@handle_errors
def keygen(
    name: Annotated[str, typer.Argument(metavar="ORIGIN", help="Key name = the log's origin.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Signer key file to create (0600).")],
) -> None:
    """Generate a C2SP Ed25519 note key: FILE (secret) and FILE.vkey (give it to auditors)."""
    from nexusctl.evidence.keys import generate_note_key

    write_stdout(f"wrote signer key {out} and verifier key {generate_note_key(out, name)}")


@evidence_app.command("init")
@handle_errors
def init(
    store: StoreArg,
    key: Annotated[
        Path, typer.Option("--key", help="The log's verifier key (or signer key) file.")
    ],
) -> None:
    """Create an empty evidence store whose checkpoints KEY signs (origin = the key name)."""
    from nexusctl.evidence.keys import load_verifier
    from nexusctl.evidence.store import init_store

    verifier = load_verifier(key)
    init_store(store_root(store), verifier.name, verifier)
    write_stdout(f"created evidence store {store} (origin {verifier.name})")


@evidence_app.command("ingest")
@handle_errors
def ingest(
    store: StoreArg,
    src: Annotated[Path, typer.Argument(metavar="SRC", help="Records to append.")],
    key: Annotated[Path, typer.Option("--key", help="The store's signer key file.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="canonical (.jsonl or .parquet) | simulate (a --decisions file) | litellm "
            "(spend logs) | otel (GenAI spans).",
        ),
    ] = "canonical",
    enrich: Annotated[
        Path | None,
        typer.Option("--enrich", help="litellm/otel: enrichment spec for missing attributes."),
    ] = None,
    side: Annotated[
        str, typer.Option("--side", help="simulate: which policy's decisions, candidate|baseline.")
    ] = "candidate",
    environment: Annotated[
        str | None, typer.Option("--environment", help="simulate: environment to record.")
    ] = None,
) -> None:
    """Append decision records; each UTC day becomes a sealed segment with a signed checkpoint.

    Idempotent: a record already stored (same request id, same content) is skipped; the same
    request id with other content is refused (exit 3), and nothing is written.

    simulate input becomes counterfactual records, kept in their own log; litellm and otel
    logs are parsed by the traffic importers (docs/traffic.md) and recorded as real decisions.
    """
    from nexusctl.clock import SYSTEM_CLOCK
    from nexusctl.evidence.keys import load_signer
    from nexusctl.evidence.sources import (
        read_gateway_log,
        read_jsonl,
        read_parquet,
        read_simulate,
    )
    from nexusctl.evidence.store import ingest as run_ingest

    signer = load_signer(key)
    table: pa.Table
    kind: Kind
    if fmt == "simulate":
        if side not in ("candidate", "baseline"):
            raise UsageError(f"--side {side!r}: choose candidate or baseline")
        table, kind = read_simulate(src, side, environment), "counterfactual"
    elif fmt == "canonical":
        table = read_jsonl(src) if src.suffix in (".jsonl", ".json") else read_parquet(src)
        kind = "real"
    elif fmt in ("litellm", "otel"):
        table, kind = read_gateway_log(fmt, src, enrich), "real"
    else:
        raise UsageError(
            f"unknown format {fmt!r}", hint="formats: canonical, simulate, litellm, otel"
        )
    kinds = set(table.column("nexus.record.kind").to_pylist())
    if kinds - {kind}:
        raise UsageError(f"{src}: holds {', '.join(sorted(kinds))} records; expected {kind}")
    result = run_ingest(store_root(store), table, signer, kind, SYSTEM_CLOCK, str(src))
    write_stdout(
        f"{result.kind}: appended {result.added} record(s), {result.duplicates} already present; "
        f"{len(result.segments)} segment(s) sealed; tree size {result.tree_size}"
    )


@evidence_app.command("verify")
@handle_errors
def verify(
    store: StoreArg,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Verifier key to trust (default: the store's own, warned)."),
    ] = None,
    trusted: Annotated[
        Path | None,
        typer.Option("--from", help="A checkpoint kept earlier: the store must extend it."),
    ] = None,
    fmt: TextOrJsonOpt = TextOrJson.text,
) -> None:
    """Recompute every leaf, the tree, every checkpoint signature and their consistency.

    Names each modified, deleted, inserted or reordered record (segment, row, request id).

    Exit codes: 0 intact, 5 a problem was found (its reason code is printed), 3 bad input.
    """
    from nexusctl.evidence.keys import load_verifier
    from nexusctl.evidence.verify import verify_store
    from nexusctl.files import read_bounded

    verifier = load_verifier(key) if key else None
    if verifier is None:
        stderr_console().print(
            "warning: trusting the key recorded in the store; pass --key to pin it",
            markup=False,
            highlight=False,
        )
    earlier = read_bounded(trusted, 1 << 20, what="checkpoint") if trusted else None
    report = verify_store(store_root(store), verifier, earlier)
    write_stdout(_verify_json(report) if fmt == "json" else _verify_text(report))
    if not report.ok:
        first = report.findings[0]
        raise VerificationError(
            f"evidence verification failed: {len(report.findings)} problem(s); first: "
            f"{first.reason}",
            reason=first.reason,
        )


def _verify_text(report: VerifyReport) -> str:
    lines = [
        f"{kind}: {report.records.get(kind, 0)} record(s), tree size {size}, "
        f"{report.checkpoints.get(kind, 0)} checkpoint(s)"
        + (f", {report.dropped[kind]} dropped by retention" if report.dropped.get(kind) else "")
        for kind, size in report.tree_size.items()
    ]
    lines += [f"warning: {w}" for w in report.warnings]
    lines += [f"{f.reason}: {f.log}: {f.message}" for f in report.findings]
    lines.append("OK: evidence intact" if report.ok else "FAILED")
    return "\n".join(lines)


def _verify_json(report: VerifyReport) -> str:
    data: dict[str, Any] = {
        "ok": report.ok,
        "records": report.records,
        "dropped": report.dropped,
        "tree_size": report.tree_size,
        "checkpoints": report.checkpoints,
        "warnings": report.warnings,
        "findings": [f.__dict__ for f in report.findings],
    }
    return json.dumps(data, indent=2, sort_keys=True)


@evidence_app.command("prove")
@handle_errors
def prove(
    store: StoreArg,
    request_id: Annotated[str, typer.Option("--request-id", help="The decision to prove.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Proof file to write (JSON).")],
) -> None:
    """Write one record, its inclusion proof and the signed checkpoint to a portable file."""
    from nexusctl.evidence.proof import prove as run_prove

    document = run_prove(store_root(store), request_id)
    out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    write_stdout(
        f"wrote proof of leaf {document['leaf_index']} of {document['tree_size']} to {out}"
    )


@evidence_app.command("verify-proof")
@handle_errors
def verify_proof(
    proof: Annotated[Path, typer.Argument(metavar="PROOF", help="A file from `evidence prove`.")],
    key: Annotated[Path, typer.Option("--key", help="The log's verifier key file.")],
) -> None:
    """Verify a proof file offline: checkpoint signature, then the record's inclusion.

    Exit codes: 0 proven, 5 the proof does not verify (reason printed), 3 bad input.
    """
    from nexusctl.evidence.keys import load_verifier
    from nexusctl.evidence.proof import verify_proof as run_verify

    proven = run_verify(proof, load_verifier(key))
    write_stdout(
        f"OK: request {proven['request_id']} is leaf {proven['leaf_index']} of "
        f"{proven['tree_size']} in {proven['origin']} (root {proven['root_hash']})"
    )


@evidence_app.command("verify-log")
@handle_errors
def verify_log(
    log_dir: Annotated[
        Path, typer.Argument(metavar="LOG", help="A tlog-tiles directory (checkpoint + tile/).")
    ],
    key: Annotated[Path, typer.Option("--key", help="The log's verifier key file.")],
) -> None:
    """Verify any C2SP tlog-tiles log offline: checkpoint signature, every tile, the root.

    Exit codes: 0 verified, 5 a problem (reason printed), 3 bad input.
    """
    from nexusctl.evidence.keys import load_verifier
    from nexusctl.evidence.verify import verify_tiles_log

    checkpoint = verify_tiles_log(log_dir, load_verifier(key))
    write_stdout(
        f"OK: {checkpoint.origin} at size {checkpoint.size}: tiles hash to the signed root"
    )


@evidence_app.command("query")
@handle_errors
def query(
    store: StoreArg,
    sql: Annotated[str, typer.Argument(metavar="SQL", help="One SELECT over the views.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE for $NAME; repeatable.")
    ] = None,
    fmt: Annotated[
        TableCsvJson, typer.Option("--format", "-f", help="table | csv | json.")
    ] = TableCsvJson.table,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, help="Stop the query after SECONDS (0: no limit)."),
    ] = 900.0,
    max_rows: Annotated[
        int,
        typer.Option("--max-rows", min=1, help="Refuse a result of more rows (exit 3)."),
    ] = 1_000_000,
    engine: EvidenceEngineOpt = EvidenceEngine.duckdb,
    master: MasterOpt = None,
    conf: ConfOpt = None,
) -> None:
    """Run read-only SQL (DuckDB; Spark SQL with --engine spark) over the evidence views.

    The views are decisions and counterfactual_decisions (docs/evidence.md). Parameters bind
    $NAME in DuckDB and :NAME in Spark SQL (docs/scale.md).
    """
    from nexusctl.evidence.query import QueryLimits, parse_params
    from nexusctl.spark import evidence_query

    run_query = evidence_query(engine.value, master, conf)
    limits = QueryLimits(timeout, max_rows)
    result = run_query(cast("Path", store_root(store)), sql, parse_params(param or []), limits)
    if fmt == "json":
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        write_stdout(json.dumps(rows, indent=2, default=str))
    elif fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        write_stdout(buffer.getvalue())
    else:
        from rich.table import Table

        from nexusctl.cli._common import plain, stdout_console

        table = Table(*(plain(c) for c in result.columns))
        for row in result.rows:  # a query can return any text: control characters escaped
            table.add_row(*("" if v is None else plain(v) for v in row))
        stdout_console().print(table)


@evidence_app.command("retain")
@handle_errors
def retain(
    store: StoreArg,
    before: Annotated[
        dt.datetime,
        typer.Option("--before", formats=["%Y-%m-%d"], help="Drop segments of days before DATE."),
    ],
    key: Annotated[Path, typer.Option("--key", help="The store's signer key file.")],
) -> None:
    """Drop sealed segments wholly before DATE, leaving a signed tombstone per log.

    The tree hashes and every checkpoint stay: later checkpoints and the proofs of retained
    records still verify; `evidence verify` accepts the drop only under a tombstone signed by
    the store's key that covers exactly the dropped segments. Exit 7 if an ingest holds the lock.
    """
    from nexusctl.evidence.keys import load_signer
    from nexusctl.evidence.retention import retain as run_retain

    results = run_retain(store_root(store), before.date(), load_signer(key))
    lines = [
        f"{r.kind}: dropped {len(r.segments)} segment(s), {r.records} record(s)"
        + (f"; tombstone {r.tombstone}" if r.tombstone else "")
        for r in results
    ]
    write_stdout("\n".join(lines) or "nothing sealed: nothing to drop")
