"""`nexusctl evidence`: init, ingest (idempotent), verify, prove, verify-proof, query, report."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexusctl.evidence.record import arrow_schema
from tests.cli.evidence_helpers import make_store, records, run, segments, write_jsonl


def test_ingest_seals_one_segment_per_day_and_verifies(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path, 30)
    assert len(segments(store)) == 3
    assert {p.parent.name for p in segments(store)} == {
        "dt=2026-01-01",
        "dt=2026-01-02",
        "dt=2026-01-03",
    }
    assert (
        (store / "real" / "log" / "checkpoint")
        .read_text()
        .startswith("nebula.example/evidence\n30\n")
    )
    result = run("evidence", "verify", str(store), "--key", str(vkey))
    assert result.exit_code == 0, result.stdout
    assert "real: 30 record(s), tree size 30, 3 checkpoint(s)" in result.stdout
    assert "OK: evidence intact" in result.stdout
    assert result.stderr == ""


def test_segments_are_zstd_parquet_in_the_record_schema(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 5)
    meta = pq.ParquetFile(segments(store)[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_schema(segments(store)[0]).names == arrow_schema().names


def test_ingest_is_idempotent_and_appends_only_new_records(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    src = write_jsonl(tmp_path / "more.jsonl", records(40))
    result = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert result.exit_code == 0, result.stderr
    assert "appended 10 record(s), 30 already present" in result.stdout
    again = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert "appended 0 record(s), 40 already present" in again.stdout
    assert run("evidence", "verify", str(store), "--key", str(vkey)).exit_code == 0


def test_same_request_id_with_other_content_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    store, key, _ = make_store(tmp_path, 3)
    changed = records(3)
    changed[1]["nexus.cost.pusd"] = 7
    src = write_jsonl(tmp_path / "changed.jsonl", changed)
    before = sorted(p for p in store.rglob("*") if p.is_file())
    result = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert result.exit_code == 3
    assert "request id 'req-1' is already in the evidence with different content" in (result.stderr)
    assert sorted(p for p in store.rglob("*") if p.is_file()) == before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"gen_ai.input.messages": "[]"}, "never stores prompt/completion text or secrets"),
        ({"nexus.app.id": "sk-proj-abcdefghijklmnopqrstuvwxyz0123"}, "looks like a secret"),
        ({"nexus.app.id": "free text with spaces"}, "nexus.app.id"),
    ],
)
def test_hostile_records_are_refused_with_exit_3(
    tmp_path: Path, edit: dict[str, str], message: str
) -> None:
    store, key, _ = make_store(tmp_path, 2)
    bad = records(3, 100)
    bad[2].update(edit)
    src = write_jsonl(tmp_path / "bad.jsonl", bad)
    result = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert result.exit_code == 3, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 30_000 + "\n", "bad.jsonl:2: not JSON (JSON nested deeper than 32 levels)"),
        ('{"a": 1, "a": 2}\n', "bad.jsonl:2: not JSON (duplicate key 'a')"),
        ('{"a": NaN}\n', "bad.jsonl:2: not JSON"),
    ],
)
def test_hostile_json_lines_are_input_errors(tmp_path: Path, text: str, message: str) -> None:
    """30,000 brackets were a RecursionError (exit 70); a repeated key kept its last value."""
    store, key, _ = make_store(tmp_path, 2)
    src = write_jsonl(tmp_path / "bad.jsonl", records(1, 100))
    with src.open("a") as handle:
        handle.write(text)
    result = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert result.exit_code == 3, result.stdout
    assert message in result.stderr
    assert "internal error" not in result.stderr


def test_a_line_that_never_ends_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """20 GiB without a newline: the line iterator read it all (24 GB, killed) before the
    length check."""
    from tests.cli._bounded import assert_bounded, run_bounded

    store, key, _ = make_store(tmp_path, 2)
    src = tmp_path / "endless.jsonl"
    with src.open("wb") as handle:
        handle.write(b'{"nexus.request.id": "')
        handle.truncate(20 << 30)  # sparse: no disk space
    outcome = run_bounded("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert outcome.code == 3, outcome.stderr
    assert "endless.jsonl:1: line longer than 65536 bytes" in outcome.stderr
    assert_bounded(outcome)


def test_ingest_with_another_key_is_refused(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 2)
    other = tmp_path / "other.key"
    assert run("evidence", "keygen", "nebula.example/evidence", "-o", str(other)).exit_code == 0
    src = write_jsonl(tmp_path / "more.jsonl", records(2, 50))
    result = run("evidence", "ingest", str(store), str(src), "--key", str(other))
    assert result.exit_code == 3
    assert "not the key this store was created with" in result.stderr


def test_canonical_parquet_input(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 2)
    rows = records(5, 200)
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "in.parquet")
    result = run("evidence", "ingest", str(store), str(tmp_path / "in.parquet"), "--key", str(key))
    assert result.exit_code == 0, result.stderr
    assert "appended 5 record(s)" in result.stdout
    assert run("evidence", "verify", str(store), "--key", str(vkey)).exit_code == 0


def test_prove_and_verify_proof_offline(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path, 30)
    proof = tmp_path / "proof.json"
    result = run("evidence", "prove", str(store), "--request-id", "req-17", "-o", str(proof))
    assert result.exit_code == 0, result.stderr
    document = json.loads(proof.read_text())
    assert document["record"]["nexus.request.id"] == "req-17"
    assert document["tlog_proof"].startswith("c2sp.org/tlog-proof@v1\nindex ")
    checked = run("evidence", "verify-proof", str(proof), "--key", str(vkey))
    assert checked.exit_code == 0, checked.stderr
    assert "OK: request req-17 is leaf" in checked.stdout


def test_prove_unknown_request_is_exit_3(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 3)
    result = run("evidence", "prove", str(store), "--request-id", "nope", "-o", "p.json")
    assert result.exit_code == 3
    assert "no sealed record has request id 'nope'" in result.stderr


def test_query_views_params_and_formats(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 30)
    sql = "SELECT tenant, count(*) AS n FROM decisions WHERE outcome = $o GROUP BY 1 ORDER BY 1"
    result = run("evidence", "query", str(store), sql, "--param", "o=routed", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"tenant": "retail", "n": 5},
        {"tenant": "treasury", "n": 5},
        {"tenant": "wealth", "n": 6},
    ]
    csv = run("evidence", "query", str(store), "SELECT count(*) AS n FROM decisions", "-f", "csv")
    assert csv.stdout == "n\n30\n"
    empty = run("evidence", "query", str(store), "SELECT count(*) FROM counterfactual_decisions")
    assert empty.exit_code == 0
    assert "0" in empty.stdout


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO 'out.csv'",
        "SELECT 1; SELECT 2",
        "SELECT * FROM read_csv('/etc/passwd')",
        "CREATE TABLE t AS SELECT 1",
    ],
)
def test_query_is_read_only(tmp_path: Path, sql: str) -> None:
    store, _, _ = make_store(tmp_path, 2)
    result = run("evidence", "query", str(store), sql)
    assert result.exit_code == 3, result.stdout
    assert "Traceback" not in result.stderr


def test_report_in_three_formats(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 30)
    markdown = run("evidence", "report", str(store), "--tenant", "retail")
    assert markdown.exit_code == 0, markdown.stderr
    assert "# Evidence report" in markdown.stdout
    assert "Decisions: 10, spend $0.000145" in markdown.stdout
    html = tmp_path / "r.html"
    assert run("evidence", "report", str(store), "-f", "html", "-o", str(html)).exit_code == 0
    page = html.read_text()
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page
    data = json.loads(run("evidence", "report", str(store), "-f", "json").stdout)
    sections = {s["id"]: s for s in data["sections"]}
    assert set(sections) == {
        "policies",
        "routes",
        "deployments",
        "residency",
        "refusals",
        "tenants",
    }
    refusals = sections["refusals"]["rows"]
    assert sum(row[-1] for row in refusals) == 14
    assert data["logs"]["real"]["tree_size"] == 30
    window = run("evidence", "report", str(store), "--from", "2026-01-02", "--to", "2026-01-02")
    assert "Decisions: 10," in window.stdout


def test_not_a_store_is_exit_3(tmp_path: Path) -> None:
    result = run("evidence", "verify", str(tmp_path))
    assert result.exit_code == 3
    assert "not an evidence store" in result.stderr
