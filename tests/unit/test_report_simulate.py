"""Report renderers: JSON, Markdown, HTML and JUnit, on hand-built results."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from nexusctl.simulate.gates import GateSetting, evaluate_gates
from nexusctl.simulate.reports._format import usd
from nexusctl.simulate.reports.report_html import render_html
from nexusctl.simulate.reports.report_json import render_json
from nexusctl.simulate.reports.report_junit import render_junit
from nexusctl.simulate.reports.report_markdown import render_markdown
from nexusctl.simulate.result import SimulationResult
from tests.assets.simulate.simulate_results import make_result

HOSTILE = "evil|<script>alert(1)</script>&*_`x`"


def _gated(**kwargs: object) -> SimulationResult:
    result = make_result(**kwargs)
    settings = [
        GateSetting("spend_change_max_pct", Decimal("2"), "flag"),
        GateSetting("residency_violations_max", Decimal("0"), "default"),
        GateSetting("pgr_min", Decimal("0.5"), "file"),
    ]
    return result.model_copy(update={"verdict": evaluate_gates(result, settings)})


def test_usd_is_rounded_for_reading_half_to_even() -> None:
    assert usd(0) == "$0.00"
    assert usd(-1_234_567_890) == "-$1,234.57"
    assert usd(1_005_000) == "$1.00"  # half to even, from the exact integer
    assert usd(1_015_000) == "$1.02"
    assert usd(4_200, signed=True) == "+$0.0042"  # under a cent: four decimals
    assert usd(1) == "<$0.0001"
    assert usd(-1) == "-<$0.0001"


def test_json_is_one_document_that_round_trips() -> None:
    result = _gated()
    text = render_json(result)
    data = json.loads(text)
    assert SimulationResult.model_validate(data) == result
    assert data["kind"] == "SimulationResult"
    assert isinstance(data["spend"]["baseline"], int)
    assert data["verdict"]["passed"] is False
    decoder = json.JSONDecoder()
    _obj, end = decoder.raw_decode(text)
    assert text[end:].strip() == ""


def test_markdown_for_a_pull_request() -> None:
    text = render_markdown(_gated(tenant=HOSTILE))
    assert text.startswith("## ❌ Policy simulation")
    assert "| `spend_change_max_pct` | 5.00 % | ≤ 2 % | ❌ **fail** | flag |" in text
    assert "| `residency_violations_max` | 0 | ≤ 0 | ✅ pass | default |" in text
    assert "### Decisions by tier (rows: baseline, columns: candidate)" in text
    assert "<script>" not in text
    # GitHub tables: every table row has the same number of unescaped pipes as its header.
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M):
        counts = {len(re.findall(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(counts) == 1, block


def test_markdown_passing_verdict_and_no_changes() -> None:
    result = make_result(changed=0, candidate_spend=1_000_000)
    text = render_markdown(result)
    assert text.startswith("## ✅")
    assert "No decision changed." in text


def test_html_is_self_contained_and_escaped() -> None:
    html = render_html(_gated(tenant=HOSTILE, violations=2, price_effect=-500))
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert html.count("<svg") == 5
    assert "GATES FAILED" in html
    assert "Catalog changed" in html
    assert "req-7" in html  # the residency violation example


def test_junit_parses_back_with_one_case_per_gate() -> None:
    result = _gated(traffic_path='t&<"x">.parquet')
    root = ET.fromstring(render_junit(result).encode("utf-8"))  # noqa: S314 (our own output)
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [g.name for g in result.verdict.gates]
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "1"
    failures = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["spend_change_max_pct"]
    failure = failures[0].find("failure")
    assert failure is not None
    assert failure.get("type") == "GateFailed"
    assert "<= 2 %" in (failure.get("message") or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["traffic.path"] == 't&<"x">.parquet'


def test_junit_all_pass_has_no_failure_elements() -> None:
    result = make_result(candidate_spend=1_000_000)
    settings = [GateSetting("spend_change_max_pct", Decimal("1"), "flag")]
    result = result.model_copy(update={"verdict": evaluate_gates(result, settings)})
    root = ET.fromstring(render_junit(result))  # noqa: S314 (our own output)
    assert root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_attestation_predicate_has_no_floats_and_is_canonicalisable() -> None:
    from nexusctl.canonical import canonical_bytes
    from nexusctl.simulate.attest import PREDICATE_TYPE, routing_diff_predicate

    result = _gated()
    predicate = routing_diff_predicate(result, candidate_bundle="sha256:" + "e" * 64)
    data = predicate.model_dump(mode="json")

    def walk(value: object) -> None:
        assert not isinstance(value, float), value
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    assert PREDICATE_TYPE.endswith("/routing-diff/v1")
    assert data["spend_micro_usd"]["change"] == result.spend.change
    assert [g["value"] for g in data["gates"]] == ["5.000000", "0.000000", "0.800000"]
    assert data["passed"] is False
    assert canonical_bytes(data)


def test_render_dispatches_every_file_format_and_leaves_text_to_the_terminal_view() -> None:
    from nexusctl.simulate.reports import ReportFormat, render
    from nexusctl.simulate.reports.terminal import Line, Table, terminal_view

    result = _gated()
    assert render(result, ReportFormat.json) == render_json(result)
    assert render(result, ReportFormat.markdown) == render_markdown(result)
    assert render(result, ReportFormat.html) == render_html(result)
    assert render(result, ReportFormat.junit) == render_junit(result)
    with pytest.raises(ValueError, match="not a file format rendered here"):
        render(result, ReportFormat.text)
    view = terminal_view(result)
    assert isinstance(view[0], Line)
    assert view[0].verdict is result.verdict.passed
    gates = next(b for b in view if isinstance(b, Table) and b.title == "Gates")
    assert [row[0].text for row in gates.rows] == [g.name for g in result.verdict.gates]
    tones = {row[0].text: row[3].tone for row in gates.rows}
    assert tones == {g.name: "pass" if g.passed else "fail" for g in result.verdict.gates}
