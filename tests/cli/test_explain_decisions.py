"""`policy explain --decisions FILE --row N`: any simulated decision can be explained again,
and the explanation is of exactly the recorded decision (issue 12, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from nexusctl.errors import InputError
from nexusctl.policy import load_policy
from nexusctl.router import route
from nexusctl.simulate.decision_rows import differences, iter_decision_rows, read_decision_row
from nexusctl.traffic.synth import write_synth

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "nebula"
BASELINE = POLICIES / "retail-chat.yaml"
CANDIDATE = POLICIES / "retail-chat.candidate.yaml"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="nexusctl")


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("explain-decisions")
    traffic = folder / "traffic.parquet"
    write_synth(traffic, 1500, 23)
    out = folder / "decisions.parquet"
    result = invoke(
        "simulate",
        "--baseline",
        str(BASELINE),
        "--candidate",
        str(CANDIDATE),
        "--traffic",
        str(traffic),
        "--decisions",
        str(out),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    return out


@pytest.mark.parametrize(("side", "policy"), [("baseline", BASELINE), ("candidate", CANDIDATE)])
def test_every_row_explains_to_its_recorded_decision(
    decisions: Path, side: str, policy: Path
) -> None:
    loaded = load_policy(policy)
    rows = iter_decision_rows(decisions, side, 400)
    assert len(rows) == 400
    # The check is only worth something if the rows vary in what matters.
    assert len({r.recorded["outcome"] for r in rows}) >= 2
    assert len({r.recorded["deployment_id"] for r in rows}) >= 3
    assert any(r.request.capabilities for r in rows)
    assert len({r.load for r in rows}) >= 2
    for decided in rows:
        decision = route(loaded, decided.request, decided.load)
        assert differences(decided, decision.decision_row(decided.row)) == {}, decided.row


def test_the_wrong_policy_differs(decisions: Path) -> None:
    loaded = load_policy(BASELINE)
    rows = iter_decision_rows(decisions, "candidate", 400)
    changed = [
        r for r in rows if differences(r, route(loaded, r.request, r.load).decision_row(r.row))
    ]
    assert changed  # retail-chat v3 and v4 do decide differently on some of these


def test_cli_explains_a_row_and_says_it_matches(decisions: Path) -> None:
    result = invoke(
        "policy", "explain", str(CANDIDATE), "--decisions", str(decisions), "--row", "17"
    )
    assert result.exit_code == 0, result.stderr
    assert f"same decision as {decisions} row 17 (candidate, load " in result.stdout
    json_result = invoke(
        "policy",
        "explain",
        str(BASELINE),
        "--decisions",
        str(decisions),
        "--row",
        "17",
        "--side",
        "baseline",
        "--format",
        "json",
    )
    document = json.loads(json_result.stdout)
    assert document["decisionsRow"]["matches"] is True
    assert document["decisionsRow"]["side"] == "baseline"


def test_cli_by_request_id_and_a_mismatch(decisions: Path) -> None:
    table = pq.read_table(
        decisions,
        columns=[
            "request_id",
            "baseline_outcome",
            "candidate_outcome",
            "baseline_deployment_id",
            "candidate_deployment_id",
        ],
    )
    rows = table.to_pylist()
    index = next(
        i for i, r in enumerate(rows) if r["baseline_deployment_id"] != r["candidate_deployment_id"]
    )
    request_id = rows[index]["request_id"]
    result = invoke(
        "policy",
        "explain",
        str(BASELINE),
        "--decisions",
        str(decisions),
        "--request-id",
        request_id,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    check = json.loads(result.stdout)["decisionsRow"]
    assert check["row"] == index
    assert check["matches"] is False
    assert "deployment_id" in check["differences"]
    text = invoke(
        "policy", "explain", str(BASELINE), "--decisions", str(decisions), "--row", str(index)
    )
    assert f"DIFFERS from {decisions} row {index}" in text.stdout
    assert "deployment_id: recorded" in text.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--row", "999999"], 3, "row 999999 is out of range (the file has 1500 rows)"),
        (["--request-id", "no-such-id"], 3, "no row has request id 'no-such-id'"),
        ([], 2, "exactly one of --row N and --request-id ID"),
        (["--row", "1", "--request-id", "x"], 2, "exactly one of --row N and --request-id ID"),
        (["--row", "1", "--request", "{}"], 2, "--request and --decisions cannot go together"),
    ],
)
def test_cli_refusals(decisions: Path, args: list[str], code: int, message: str) -> None:
    result = invoke("policy", "explain", str(CANDIDATE), "--decisions", str(decisions), *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_row_without_decisions_and_no_request_are_usage_errors() -> None:
    result = invoke("policy", "explain", str(CANDIDATE), "--row", "1")
    assert result.exit_code == 2
    assert "--row and --request-id need --decisions FILE" in result.stderr
    result = invoke("policy", "explain", str(CANDIDATE))
    assert result.exit_code == 2
    assert "give the request" in result.stderr


def test_a_file_without_capabilities_is_refused_by_name(decisions: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.parquet"
    pq.write_table(pq.read_table(decisions).drop_columns(["capabilities"]), old)
    with pytest.raises(InputError, match="missing column\\(s\\) capabilities"):
        read_decision_row(old, side="candidate", row=0)
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("not parquet")
    result = invoke(
        "policy", "explain", str(CANDIDATE), "--decisions", str(not_parquet), "--row", "0"
    )
    assert result.exit_code == 3
    assert "not a Parquet decisions file" in result.stderr


def test_a_repeated_request_id_asks_for_a_row(decisions: Path, tmp_path: Path) -> None:
    table = pq.read_table(decisions)
    ids = table.column("request_id").to_pylist()
    ids[5] = ids[3]
    twice = tmp_path / "twice.parquet"
    index = table.schema.get_field_index("request_id")
    pq.write_table(table.set_column(index, "request_id", pa.array(ids)), twice)
    with pytest.raises(InputError, match=r"is on several rows \(3, 5, \.\.\.\)"):
        read_decision_row(twice, side="candidate", request_id=ids[3])
