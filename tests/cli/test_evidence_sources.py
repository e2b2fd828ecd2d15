"""`evidence ingest` from producers: a real `simulate --decisions` file (counterfactual records
in their own log) and LiteLLM spend logs / OTel GenAI spans (real records)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nexusctl.traffic.synth import write_synth
from tests.cli.evidence_helpers import make_store, run
from tests.conftest import ASSETS, POLICIES


def test_simulated_decisions_are_counterfactual_and_kept_apart(tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.parquet"
    write_synth(traffic, 400, 3, policies=[POLICIES / "retail-chat.yaml"])
    pairs = tmp_path / "pairs.parquet"
    simulated = run(
        "simulate",
        *("--baseline", str(POLICIES / "retail-chat.yaml")),
        *("--candidate", str(POLICIES / "retail-chat.candidate.yaml")),
        *("--traffic", str(traffic), "--decisions", str(pairs)),
    )
    assert simulated.exit_code in (0, 6), simulated.stderr
    store, key, vkey = make_store(tmp_path, 5)
    result = run(
        "evidence",
        "ingest",
        str(store),
        str(pairs),
        "--format",
        "simulate",
        "--key",
        str(key),
        "--environment",
        "staging",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("counterfactual: appended 400 record(s)")
    checked = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert checked.exit_code == 0, checked.stdout
    assert json.loads(checked.stdout)["tree_size"] == {"real": 5, "counterfactual": 400}
    assert (
        (store / "counterfactual" / "log" / "checkpoint")
        .read_text()
        .startswith("nebula.example/evidence/counterfactual\n400\n")
    )
    sql = (
        "SELECT count(*) AS n, count(DISTINCT kind) AS kinds, min(kind) AS kind, "
        "sum(CASE WHEN deployment_id IS NULL THEN 0 ELSE 1 END) AS served, "
        "min(environment) AS env FROM counterfactual_decisions"
    )
    rows = json.loads(run("evidence", "query", str(store), sql, "-f", "json").stdout)
    expected_served = pq.read_table(pairs, columns=["candidate_deployment_id"]).column(0)
    assert rows == [
        {
            "n": 400,
            "kinds": 1,
            "kind": "counterfactual",
            "served": len(expected_served) - expected_served.null_count,
            "env": "staging",
        }
    ]
    real = run("evidence", "query", str(store), "SELECT count(*) AS n FROM decisions", "-f", "csv")
    assert real.stdout == "n\n5\n"


def test_a_traffic_file_is_not_a_decisions_file(tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.parquet"
    write_synth(traffic, 10, 3)
    store, key, _ = make_store(tmp_path, 1)
    result = run(
        "evidence", "ingest", str(store), str(traffic), "--format", "simulate", "--key", str(key)
    )
    assert result.exit_code == 3
    assert "not a `simulate --decisions` file" in result.stderr


@pytest.mark.parametrize(
    ("fmt", "asset"), [("litellm", "litellm_spend.json"), ("otel", "otel_spans.json")]
)
def test_gateway_logs_are_ingested_as_real_decisions(tmp_path: Path, fmt: str, asset: str) -> None:
    store, key, vkey = make_store(tmp_path, 2)
    src = ASSETS / "traffic" / asset
    result = run("evidence", "ingest", str(store), str(src), "--format", fmt, "--key", str(key))
    assert result.exit_code == 0, result.stderr
    assert "real: appended 3 record(s)" in result.stdout
    sql = "SELECT count(*) AS n FROM decisions WHERE source = $s AND deployment_id IS NOT NULL"
    rows = run("evidence", "query", str(store), sql, "-p", f"s={fmt}", "-f", "json")
    assert json.loads(rows.stdout) == [{"n": 3}]
    assert run("evidence", "verify", str(store), "--key", str(vkey)).exit_code == 0


@pytest.mark.parametrize(
    ("fmt", "asset"), [("litellm", "litellm_bad_rows.json"), ("otel", "bad_truncated_otel.json")]
)
def test_malformed_gateway_logs_are_exit_3(tmp_path: Path, fmt: str, asset: str) -> None:
    store, key, _ = make_store(tmp_path, 2)
    src = ASSETS / "traffic" / asset
    result = run("evidence", "ingest", str(store), str(src), "--format", fmt, "--key", str(key))
    assert result.exit_code == 3, result.stdout
    assert "Traceback" not in result.stderr
