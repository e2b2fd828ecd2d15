"""Build real evidence stores for the CLI tests: real keys, real Parquet, real signatures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from tests.unit.test_evidence_record import record

DAY_US = 86_400_000_000
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def run(*args: str) -> Result:
    """Invoke nexusctl in-process; stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), prog_name="nexusctl")


def records(count: int, first: int = 0, *, days: int = 3) -> list[dict[str, Any]]:
    """``count`` valid records spread over ``days`` UTC days, ids ``req-<n>``."""
    out = []
    for n in range(first, first + count):
        out.append(
            record(
                **{
                    "nexus.request.id": f"req-{n}",
                    "nexus.request.time_unix_us": START_US + (n % days) * DAY_US + n,
                    "nexus.tenant.id": ("retail", "wealth", "treasury")[n % 3],
                    "nexus.decision.outcome": ("routed", "routed", "escalated", "refused")[n % 4],
                    "nexus.cost.pusd": 1_000_000 * (n + 1),
                }
            )
        )
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_store(tmp: Path, count: int = 30) -> tuple[Path, Path, Path]:
    """Return (store, signer key, verifier key) of a store holding ``count`` records."""
    key = tmp / "log.key"
    assert run("evidence", "keygen", "nebula.example/evidence", "-o", str(key)).exit_code == 0
    store = tmp / "store"
    assert run("evidence", "init", str(store), "--key", f"{key}.vkey").exit_code == 0
    src = write_jsonl(tmp / "in.jsonl", records(count))
    result = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert result.exit_code == 0, result.stderr
    return store, key, Path(f"{key}.vkey")


def segments(store: Path) -> list[Path]:
    """The sealed segment files of the real log, in seal order."""
    return sorted((store / "real" / "segments").rglob("seg-*.parquet"), key=lambda p: p.name)


def rewrite(path: Path, edit: Any) -> None:
    """Rewrite a segment in place with ``edit(rows) -> rows`` (what an attacker would do)."""
    table = pq.read_table(path)
    rows = edit(table.to_pylist())
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
