"""``nexusctl policy show``: the readable summary in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.policy.routing import IntRange, Match
from nexusctl.policy.summary import describe_match, format_usd

REPO = Path(__file__).resolve().parent.parent.parent
RETAIL = REPO / "policies" / "nebula" / "retail-chat.yaml"
CREDIT = REPO / "policies" / "nebula" / "credit-underwriting.yaml"


def show(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["policy", "show", *args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def test_json_summary_lists_routes_in_order_with_money_in_usd() -> None:
    code, out, _ = show("--format", "json", str(CREDIT))
    summary = json.loads(out)
    assert code == 0
    assert [r["id"] for r in summary["routes"]] == ["bureau-file", "memo", "default"]
    memo = summary["routes"][1]
    assert (memo["maxCostMicroUsd"], memo["maxCostUsd"]) == (400000, "$0.40")
    assert memo["fallback"] == ["eu-mid"]
    assert summary["routes"][2]["default"] is True
    assert summary["tenants"] == [
        {"id": "credit-risk", "monthlyBudgetMicroUsd": 25000000000,
         "monthlyBudgetUsd": "$25,000.00"}
    ]  # fmt: skip
    assert [e["trigger"] for e in summary["escalation"]] == [
        "when riskClasses=high",
        "confidence below 0.5",
        "no eligible deployment",
    ]
    assert summary["guardrails"][1]["deny"] == {"providers": ["openai", "anthropic"]}
    assert summary["residencyClasses"][0]["deployments"][-1] == "onprem-llama2-70b"


def test_text_summary_shows_the_tables() -> None:
    code, out, _ = show(str(RETAIL))
    assert code == 0
    assert out.startswith("retail-chat v3")
    for title in ("Routes (first match wins)", "Residency classes", "Guardrails",
                  "Escalation", "Tenants", "Fallback chains", "Lint suppressions"):  # fmt: skip
        assert title in out
    assert "vision-statements" in out
    assert "$40,000.00" in out


def test_broken_policy_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: RoutingPolicy\n")
    code, out, err = show(str(path))
    assert code == 3
    assert out == ""
    assert f"{path.as_posix()}:1:1" in err


def test_helpers() -> None:
    assert format_usd(2000) == "$0.002"
    assert format_usd(250000) == "$0.25"
    assert format_usd(1) == "$0.000001"
    assert format_usd(None) is None
    assert describe_match(None) == "(any request)"
    assert describe_match(Match(use_cases=["a", "b"], input_tokens=IntRange(min=5))) == (
        "useCases=a, b; inputTokens=5.."
    )
