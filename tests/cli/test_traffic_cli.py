"""``nexusctl traffic import / synth / inspect`` through the CLI: exit codes, streams, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "traffic"
ENRICH = (
    Path(__file__).resolve().parents[2] / "policies" / "nebula" / "enrichment" / "azure-code.yaml"
)


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], prog_name="nexusctl")


def _import(fmt: str, name: str, out: Path, *extra: str | Path) -> Any:
    return run("traffic", "import", fmt, ASSETS / name, "-o", out, *extra)


BAD_ROW_FILES = [
    ("bad_negative_tokens.csv", "input_tokens: -5 is negative"),
    ("bad_unknown_data_class.csv", "data_class: unknown value 'top-secret'"),
    ("bad_timestamp.csv", "time: not an RFC 3339 timestamp: 'yesterday at noon'"),
    ("bad_impossible_date.csv", "time: not a valid date-time"),
    ("bad_wrong_type.csv", "input_tokens: not an integer: 'lots'"),
    ("bad_cached_exceeds_input.csv", "cached_input_tokens: 500 exceeds input_tokens 420"),
    ("bad_duplicate_request_id.csv", "request_id: duplicate 'ok-1' (first seen at row 1)"),
    ("bad_complexity_range.csv", "complexity: 1.5 is not in [0, 1]"),
    ("bad_unknown_capability.csv", "capabilities: unknown capability in ['telepathy']"),
    ("bad_missing_value.csv", "tenant: missing value"),
]


@pytest.mark.parametrize(("name", "message"), BAD_ROW_FILES)
def test_bad_rows_reject_the_file_with_row_and_line(
    tmp_path: Path, name: str, message: str
) -> None:
    out = tmp_path / "out.parquet"
    result = _import("canonical", name, out)
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""
    assert f"row 2 (line 3): {message}" in result.stderr
    assert "1 invalid row(s) of 3" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


@pytest.mark.parametrize(("name", "_message"), BAD_ROW_FILES)
def test_skip_invalid_skips_and_counts(tmp_path: Path, name: str, _message: str) -> None:
    out = tmp_path / "out.parquet"
    result = _import("canonical", name, out, "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    assert "skipped 1 invalid row(s)" in result.stderr
    assert "row 2 (line 3)" in result.stderr
    assert "(1 skipped)" in result.stdout
    meta = json.loads(pq.read_schema(out).metadata[b"nexusctl.traffic"])
    assert (meta["rows"], meta["skipped_invalid"], meta["skipped_rows"]) == (2, 1, [2])
    assert pq.read_metadata(out).num_rows == 2


@pytest.mark.parametrize(
    ("fmt", "name", "message"),
    [
        ("canonical", "empty.csv", "empty file"),
        ("canonical", "header_only.csv", "no requests in the file"),
        ("canonical", "bad_missing_column.csv", "missing required column 'tenant'"),
        ("canonical", "bad_non_utf8.csv", "bad_non_utf8.csv:3:46: not valid UTF-8 (byte 0xe9)"),
        ("otel", "bad_truncated_otel.json", "bad_truncated_otel.json:31:3: invalid JSON"),
        ("canonical", "bad_wrong_type.jsonl", "row 4 (line 4): record: invalid JSON"),
        ("azure", "azure_sample.csv", "must come from an enrichment spec (--enrich SPEC.yaml)"),
        ("litellm", "missing.json", "file not found"),
    ],
)
def test_unusable_files_are_errors(tmp_path: Path, fmt: str, name: str, message: str) -> None:
    out = tmp_path / "out.parquet"
    result = _import(fmt, name, out)
    assert result.exit_code == 3, result.stderr
    assert message in result.stderr
    assert not out.exists()


def test_wrong_types_in_jsonl_are_listed_by_line(tmp_path: Path) -> None:
    result = _import("canonical", "bad_wrong_type.jsonl", tmp_path / "o.parquet")
    assert "row 2 (line 2): input_tokens: not an integer: 12.5" in result.stderr
    assert "row 3 (line 3): output_tokens: not an integer: 'ten'" in result.stderr
    assert "missing value" not in result.stderr


def test_azure_import_is_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (first, second):
        result = _import("azure", "azure_sample.csv", out, "--enrich", ENRICH)
        assert result.exit_code == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    meta = json.loads(pq.read_schema(first).metadata[b"nexusctl.traffic"])
    assert meta["enrichment"]["spec"]["metadata"]["name"] == "azure-code"


def test_bad_enrichment_spec_is_located(tmp_path: Path) -> None:
    result = _import(
        "azure",
        "azure_sample.csv",
        tmp_path / "o.parquet",
        "--enrich",
        ASSETS / "enrich_bad_weights.yaml",
    )
    assert result.exit_code == 3
    assert "enrich_bad_weights.yaml:9:5:" in result.stderr


def test_unknown_format_is_usage_error(tmp_path: Path) -> None:
    result = _import("splunk", "azure_sample.csv", tmp_path / "o.parquet")
    assert result.exit_code == 2
    assert "unknown format 'splunk'" in result.stderr


def test_missing_output_folder_is_environment_error(tmp_path: Path) -> None:
    result = _import("canonical", "canonical_good.csv", tmp_path / "nope" / "o.parquet")
    assert result.exit_code == 4
    assert "does not exist" in result.stderr


def test_synth_then_inspect(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    result = run("traffic", "synth", "--rows", "5000", "--seed", "3", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "wrote 5000 synthetic request(s)" in result.stdout
    text = run("traffic", "inspect", out)
    assert text.exit_code == 0, text.stderr
    assert "5,000 requests" in text.stdout
    assert "arrivals  mean" in text.stdout
    as_json = run("traffic", "inspect", out, "--format", "json")
    summary = json.loads(as_json.stdout)
    assert summary["rows"] == 5000
    assert summary["metadata"]["importer"] == "synth"
    assert sum(v["count"] for v in summary["mix"]["tenant"]["top"]) == 5000
    tokens = summary["tokens"]["input_tokens"]
    assert tokens["p50"] <= tokens["p95"] <= tokens["p99"] <= tokens["max"]
    assert summary["arrival_rate_per_s"]["peak"] >= summary["arrival_rate_per_s"]["mean"]


def test_synth_with_policies(tmp_path: Path, policies_dir: Path) -> None:
    out = tmp_path / "p.parquet"
    result = run(
        "traffic",
        "synth",
        "--rows",
        "300",
        "-o",
        out,
        "--policy",
        policies_dir / "retail-chat.yaml",
    )
    assert result.exit_code == 0, result.stderr
    tenants = set(pq.read_table(out, columns=["tenant"]).column(0).to_pylist())
    assert tenants == {"retail-banking", "wealth"}


def test_inspect_quality_and_observed(tmp_path: Path) -> None:
    out = tmp_path / "l.parquet"
    assert _import("litellm", "litellm_spend.json", out).exit_code == 0
    summary = json.loads(run("traffic", "inspect", out, "-f", "json").stdout)
    assert summary["observed"]["cost_micro_usd_total"] == 178 + 12400 + 100000
    assert summary["observed"]["latency_ms_p50"] == 5120
    assert summary["quality"]["labelled_small"] == 0
    assert summary["capabilities"]["rows_with_none"] == 1


def test_inspect_rejects_non_parquet(tmp_path: Path) -> None:
    result = run("traffic", "inspect", ASSETS / "canonical_good.csv")
    assert result.exit_code == 3
    assert "not a readable Parquet file" in result.stderr
    missing = run("traffic", "inspect", tmp_path / "none.parquet")
    assert missing.exit_code == 3


def test_bad_litellm_rows_are_named_by_request_id(tmp_path: Path) -> None:
    out = tmp_path / "l.parquet"
    result = _import("litellm", "litellm_bad_rows.json", out)
    assert result.exit_code == 3
    for expected in (
        "5 invalid row(s) of 6",
        "row 2 (request_id 'bad-spend'): observed_cost_micro_usd: spend is not a number: 'a lot'",
        "row 3 (request_id 'bad-end'): observed_latency_ms: endTime is before startTime",
        "row 4 (request_id 'bad-reasoning'): reasoning_tokens: reasoning 9 exceeds completion 5",
        "row 5 (request_id 'bad-metadata'): metadata: metadata is not valid JSON",
        "row 6 (list index 5): record: expected a JSON object, got str",
    ):
        assert expected in result.stderr
    assert not out.exists()
    kept = _import("litellm", "litellm_bad_rows.json", out, "--skip-invalid")
    assert kept.exit_code == 0
    assert pq.read_table(out).column("request_id").to_pylist() == ["ok-1"]


def test_bad_otel_spans_are_named_by_span(tmp_path: Path) -> None:
    result = _import("otel", "otel_bad_spans.json", tmp_path / "o.parquet")
    assert result.exit_code == 3
    span = "span 5b8efff798038103d269b633813fc60c/"
    for expected in (
        f"row 2 ({span}0000000000000002): reasoning_tokens: gen_ai.usage.reasoning.output_tokens 9",
        f"row 3 ({span}0000000000000003): observed_latency_ms: endTimeUnixNano < startTimeUnixNano",
        f"row 4 ({span}0000000000000004): input_tokens: not an integer: 'many'",
        f"row 5 ({span}0000000000000005): data_class: missing value",
        f"row 6 ({span}0000000000000006): data_class: unknown value 'secret'",
    ):
        assert expected in result.stderr


def test_inspect_rejects_other_parquet_and_empty_traffic(tmp_path: Path) -> None:
    import pyarrow as pa

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"time": [1], "tenant": ["x"]}), other)
    result = run("traffic", "inspect", other)
    assert result.exit_code == 3
    assert "not a canonical traffic file: missing" in result.stderr
    empty = tmp_path / "empty.parquet"
    assert run("traffic", "synth", "--rows", "0", "-o", empty).exit_code == 0
    result = run("traffic", "inspect", empty)
    assert result.exit_code == 3
    assert "has no rows" in result.stderr


def test_import_hashes_user_ids_with_the_key_named_by_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac

    monkeypatch.setenv("NEXUS_TEST_HASH_KEY", "k" * 32)
    out = tmp_path / "t.parquet"
    result = _import(
        "litellm-payload", "litellm_payload.jsonl", out, "--hash-key-env", "NEXUS_TEST_HASH_KEY"
    )
    assert result.exit_code == 0, result.stderr
    assert "imported 2 row(s)" in result.stdout
    # The second payload reports neither cached nor reasoning tokens: warned, never silent.
    assert "warning: " in result.stderr
    assert "cached_input_tokens not reported for 1 of 2 row(s) (50.0%)" in result.stderr
    expected = hmac.new(b"k" * 32, b"customer-42", hashlib.sha256).hexdigest()
    assert pq.read_table(out).column("end_user_hmac").to_pylist() == [expected, None]


def test_import_refuses_an_unset_hash_key_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEXUS_TEST_HASH_KEY", raising=False)
    out = tmp_path / "t.parquet"
    result = _import(
        "litellm-payload", "litellm_payload.jsonl", out, "--hash-key-env", "NEXUS_TEST_HASH_KEY"
    )
    assert result.exit_code == 2
    assert "NEXUS_TEST_HASH_KEY" in result.stderr
    assert not out.exists()
