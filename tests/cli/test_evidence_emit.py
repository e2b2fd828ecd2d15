"""`simulate --emit-evidence`: the candidate's decisions land in the counterfactual log, signed,
verifiable, queryable, and never mixed with real decisions (nor checked for conformance)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nexusctl.traffic.synth import write_synth
from tests.cli.evidence_helpers import make_store, run

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

BASELINE = str(REPO / "policies" / "nebula" / "retail-chat.yaml")
CANDIDATE = str(REPO / "policies" / "nebula" / "retail-chat.candidate.yaml")


def test_emitted_counterfactuals_round_trip_through_verify_and_query(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 6)
    traffic = tmp_path / "traffic.parquet"
    write_synth(traffic, 300, 5)
    pairs = tmp_path / "pairs.parquet"
    args = ["simulate", "--baseline", BASELINE, "--candidate", CANDIDATE]
    args += ["--traffic", str(traffic), "--decisions", str(pairs), "--format", "json"]
    result = run(*args, "--emit-evidence", str(store), str(key))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["decisions"]["requests"] == 300
    assert "counterfactual evidence" in result.stderr
    assert "appended 300 record(s)" in result.stderr

    verified = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert verified.exit_code == 0, verified.stdout
    doc = json.loads(verified.stdout)
    assert doc["records"] == {"real": 6, "counterfactual": 300}

    query = "SELECT count(*) AS n, min(kind) AS k, min(source) AS s FROM counterfactual_decisions"
    rows = json.loads(run("evidence", "query", str(store), query, "-f", "json").stdout)
    assert rows == [{"n": 300, "k": "counterfactual", "s": "simulate"}]
    # The same request ids as the pairs, the candidate's deployments.
    ids = set(pq.read_table(pairs, columns=["request_id"]).column(0).to_pylist())
    stored = run(
        "evidence",
        "query",
        str(store),
        "SELECT request_id FROM counterfactual_decisions",
        "-f",
        "csv",
    ).stdout.split()[1:]
    assert set(stored) == ids

    # Emitting the same run again is a no-op (idempotent ingest).
    again = run(*args, "--emit-evidence", str(store), str(key))
    assert again.exit_code == 0, again.stderr
    assert "appended 0 record(s), 300 already present" in again.stderr

    # Conformance reads real decisions only: the 6 real ones, none of the 300.
    conf = run("evidence", "conformance", str(store), "--policy", BASELINE, "-f", "json")
    assert conf.exit_code == 0, conf.stderr
    assert json.loads(conf.stdout)["records"] == 6


def test_emit_evidence_needs_the_decisions_file(tmp_path: Path) -> None:
    store, key, _ = make_store(tmp_path, 2)
    traffic = tmp_path / "traffic.parquet"
    write_synth(traffic, 20, 5)
    args = ["simulate", "--baseline", BASELINE, "--candidate", CANDIDATE, "--traffic", str(traffic)]
    result = run(*args, "--emit-evidence", str(store), str(key))
    assert result.exit_code == 2
    assert "--emit-evidence needs --decisions" in result.stderr
    missing = run(
        *args,
        "--decisions",
        str(tmp_path / "p.parquet"),
        "--emit-evidence",
        str(tmp_path / "nowhere"),
        str(key),
    )
    assert missing.exit_code == 3
    assert "not an evidence store" in missing.stderr
