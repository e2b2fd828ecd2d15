"""`nexusctl policy explain`: every branch of the decision, text and JSON, and bad requests."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import ASSETS, POLICIES

REQUESTS = ASSETS / "router"


def explain(policy: str, request: str, *extra: str, stdin: str | None = None):
    args = ["policy", "explain", str(POLICIES / f"{policy}.yaml"), "--request", request, *extra]
    return CliRunner().invoke(app, args, prog_name="nexusctl", input=stdin)


def explain_json(policy: str, name: str, load: int) -> dict:
    result = explain(policy, f"@{REQUESTS / name}.json", "--load", str(load), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)  # exactly one JSON document
    assert document["policy"]["name"] == policy
    return document


# (policy, request file, load) -> what the decision must show
BRANCHES = {
    "matched-route+complexity-raise": ("retail-chat", "retail-advice-complex", 4),
    "residency-elimination": ("retail-chat", "retail-faq-ca", 1),
    "cost-cap-elimination+slo-miss": ("retail-chat", "retail-faq-long", 1),
    "speculation-on": ("credit-underwriting", "credit-bureau-file", 1),
    "speculation-off-under-load": ("credit-underwriting", "credit-bureau-file", 32),
    "slo-miss-under-load": ("credit-underwriting", "credit-bureau-file-long", 32),
    "escalation": ("credit-underwriting", "credit-memo-high-risk", 2),
    "refusal": ("code-assistant", "code-audio-nothing-eligible", 1),
}


def reasons_of(document: dict) -> dict[str, str | None]:
    return {c["deployment_id"]: c["reason"] for c in document["decision"]["candidates"]}


def test_router_explain_json_matched_route_and_complexity() -> None:
    doc = explain_json(*BRANCHES["matched-route+complexity-raise"])
    d = doc["decision"]
    assert d["route_id"] == "advice"
    assert d["tier_floor"] == "mid"
    assert d["tier_floor_raised_by"] == ["complexity>=0.6"]
    assert reasons_of(doc)["mistral-eu-small"] == "BELOW_TIER_FLOOR"
    assert "BELOW_TIER_FLOOR" in doc["reason_codes"]


def test_router_explain_json_residency() -> None:
    doc = explain_json(*BRANCHES["residency-elimination"])
    assert doc["decision"]["region"] == "ca-central"
    assert reasons_of(doc)["azure-eu-gpt4o-mini"] == "RESIDENCY_REGION"


def test_router_explain_json_cost_cap_and_slo_miss() -> None:
    doc = explain_json(*BRANCHES["cost-cap-elimination+slo-miss"])
    assert reasons_of(doc)["bedrock-eu-haiku"] == "OVER_COST_CAP"
    assert doc["decision"]["slo_met"] is False
    assert doc["decision"]["max_cost_usd"] == "0.002"
    assert doc["decision"]["predicted_cost_usd"] == "0.00057"  # exact, from pico-USD


def test_router_explain_json_speculation_on_and_off() -> None:
    on = explain_json(*BRANCHES["speculation-on"])["decision"]
    off = explain_json(*BRANCHES["speculation-off-under-load"])["decision"]
    assert on["deployment_id"] == off["deployment_id"] == "onprem-llama2-70b"
    assert on["decode_strategy"] == "speculative"
    assert on["draft_tokens"] > 0
    assert off["decode_strategy"] == "standard"
    assert off["draft_tokens"] == 0
    assert off["load"] == 32


def test_router_explain_json_slo_miss_under_load() -> None:
    d = explain_json(*BRANCHES["slo-miss-under-load"])["decision"]
    assert d["slo_met"] is False
    assert d["predicted_latency_us"] > d["slo_us"]


def test_router_explain_json_escalation() -> None:
    d = explain_json(*BRANCHES["escalation"])["decision"]
    assert d["outcome"] == "escalated"
    assert d["escalation_rule"] == "high-risk-application"
    assert d["deployment_id"] is not None


def test_router_explain_json_refusal() -> None:
    doc = explain_json(*BRANCHES["refusal"])
    d = doc["decision"]
    assert d["outcome"] == "refused"
    assert d["reason"] == "NO_ELIGIBLE_DEPLOYMENT"
    assert d["deployment_id"] is None
    assert "MISSING_CAPABILITY:audio" in reasons_of(doc).values()
    assert {c["status"] for c in d["candidates"]} == {"eliminated"}


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_router_explain_text_every_branch(branch: str) -> None:
    policy, name, load = BRANCHES[branch]
    result = explain(policy, f"@{REQUESTS / name}.json", "--load", str(load))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert f"Decision under {policy}" in out
    assert "Candidates (sorted by deployment id)" in out
    assert "tier floor" in out
    doc = explain_json(policy, name, load)["decision"]
    assert doc["route_id"] in out
    assert doc["outcome"] in out
    if doc["deployment_id"]:
        assert doc["deployment_id"] in out
        assert ("speculative decoding" in out) == (doc["draft_tokens"] > 0)
        assert ("MISSED" in out) == (doc["slo_met"] is False)
    else:
        assert doc["reason"] in out


def test_router_explain_inline_and_stdin() -> None:
    body = (REQUESTS / "retail-faq-ca.json").read_text()
    inline = explain("retail-chat", body, "--format", "json")
    piped = explain("retail-chat", "-", "--format", "json", stdin=body)
    assert inline.exit_code == piped.exit_code == 0
    assert json.loads(inline.stdout) == json.loads(piped.stdout)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad-negative-tokens", "field 'inputTokens'"),
        ("bad-unknown-field", "unknown field 'prompt'"),
        ("bad-missing-tenant", "missing required field 'tenant'"),
        ("bad-not-json", "not JSON"),
        ("bad-not-object", "expected a JSON object"),
        ("bad-cached-exceeds-input", "cachedInputTokens (50) exceeds inputTokens (5)"),
    ],
)
def test_router_explain_bad_request_exit_3(name: str, message: str) -> None:
    result = explain("retail-chat", f"@{REQUESTS / name}.json")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_router_explain_missing_request_file() -> None:
    result = explain("retail-chat", f"@{REQUESTS / 'no-such-file'}.json")
    assert result.exit_code == 3
    assert "request file not found" in result.stderr


def test_router_explain_bad_load_is_usage_error() -> None:
    result = explain("retail-chat", f"@{REQUESTS / 'retail-faq-ca'}.json", "--load", "0")
    assert result.exit_code == 2


def test_router_explain_missing_policy() -> None:
    args = ["policy", "explain", str(POLICIES / "nope.yaml"), "--request", "{}"]
    result = CliRunner().invoke(app, args, prog_name="nexusctl")
    assert result.exit_code in (3, 4)
    assert result.stdout == ""


def test_router_explain_module_imports_stay_light() -> None:
    """Registering the command must not import the router, pydantic models or NumPy."""
    import subprocess
    import sys

    code = (
        "import sys, nexusctl.cli.explain_cmds; "
        "print(sorted(m for m in ('numpy', 'pyarrow', 'nexusctl.router', 'nexusctl.replay') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
