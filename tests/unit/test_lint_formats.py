"""Renderers: GitHub escaping, the JSON document and the SARIF 2.1.0 structure."""

from __future__ import annotations

import json

from nexusctl.lint.findings import RULES, Finding, LintReport, Suppressed
from nexusctl.lint.formats import escape_data, escape_property, to_github, to_json, to_text
from nexusctl.lint.sarif import to_sarif


def report() -> LintReport:
    active = Finding(
        "NXL005",
        "50% of paths\nleave: eu, ca",
        "policies/a b.yaml",
        26,
        7,
        ("chat",),
        "error",
    )
    note = Finding("NXL014", "stale", "policies/a b.yaml", 40, 7, (), "note")
    waived = Finding("NXL009", "slow", "policies/a b.yaml", 24, 7, ("chat",), "warning")
    waived = waived.suppress(
        Suppressed("Short answers only, measured.", "policies/a b.yaml", 41, 7)
    )
    return LintReport(
        findings=(active, note),
        suppressed=(waived,),
        policies=("policies/a b.yaml",),
        catalogs=("policies/catalog.yaml",),
    )


def test_github_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_data("100%\r\nok") == "100%25%0D%0Aok"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    lines = to_github(report()).splitlines()
    assert lines[0] == (
        "::error file=policies/a b.yaml,line=26,col=7,title=NXL005::50%25 of paths%0Aleave: eu, ca"
    )
    assert lines[1].startswith("::notice file=")


def test_text_and_json_agree() -> None:
    text = to_text(report())
    assert text.splitlines()[-1] == (
        "1 policy and 1 catalog linted: 1 error, 0 warnings, 1 note; 1 suppressed"
    )
    document = json.loads(to_json(report(), "error"))
    assert document["exitCode"] == 1
    assert [f["rule"] for f in document["findings"]] == ["NXL005", "NXL014"]
    assert document["suppressed"][0]["suppression"]["reason"] == "Short answers only, measured."


def test_sarif_structure() -> None:
    log = json.loads(to_sarif(report(), "error", "file:///work/repo/"))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert [r["id"] for r in driver["rules"]] == list(RULES)
    assert driver["rules"][5]["helpUri"].endswith("/docs/rules/NXL005.md")
    assert driver["rules"][5]["defaultConfiguration"] == {"level": "error"}
    assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": "file:///work/repo/"}}
    assert run["invocations"][0]["executionSuccessful"] is True
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["NXL009", "NXL005", "NXL014"]
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"].endswith(".")
    location = results[1]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "policies/a%20b.yaml", "uriBaseId": "SRCROOT",
                                            "index": 0}  # fmt: skip
    assert location["region"] == {"startLine": 26, "startColumn": 7}
    assert results[0]["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "justification": "Short answers only, measured."}
    ]
    assert "suppressions" not in results[1]


def test_sarif_marks_invalid_input_as_unsuccessful() -> None:
    broken = LintReport(
        findings=(Finding("NXL000", "file is empty", "x.yaml", 1, 1),),
        suppressed=(),
        policies=(),
        catalogs=(),
    )
    run = json.loads(to_sarif(broken, "error"))["runs"][0]
    assert run["invocations"][0] == {"executionSuccessful": False, "exitCode": 3}
    assert "originalUriBaseIds" not in run
    assert run["artifacts"][0]["location"] == {"uri": "x.yaml"}
