"""Render a PolicyTestReport as text, JSON, JUnit XML or GitHub workflow commands.

Each renderer returns one string; the CLI writes it to stdout unchanged. Text from files is
shown with control characters escaped (the lint renderers' helpers), so a hostile case name
cannot rewrite a terminal or a CI log.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from nexusctl import __version__
from nexusctl.document.text import escape_controls
from nexusctl.errors import Location
from nexusctl.lint.formats import escape_data, escape_property
from nexusctl.policytest.run import CaseResult, PolicyTestReport


def summary_line(report: PolicyTestReport) -> str:
    """One line: files, cases, passed, failed, errors (or why nothing ran)."""
    if report.no_cases:
        return "FAIL: " + (report.notes[0] if report.notes else "no test cases found")
    passed = len(report.results) - len(report.failed)
    verdict = "FAIL" if report.failed or report.errors else "PASS"
    return (
        f"{verdict}: {len(report.results)} case(s) in {len(report.files)} file(s): "
        f"{passed} passed, {len(report.failed)} failed, {len(report.errors)} error(s)"
    )


def to_text(report: PolicyTestReport) -> str:
    """One line per error and per failed expectation (``path:line:col: ...``), then the summary."""
    lines = [
        f"{escape_controls(str(e.location))}: error {escape_controls(e.message)}"
        for e in report.errors
    ]
    for result in report.failed:
        for failure in result.failures:
            lines.append(
                f"{escape_controls(str(failure.location))}: FAIL "
                f"{escape_controls(result.name)}: {escape_controls(failure.message)}"
            )
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _where(location: Location) -> dict[str, Any]:
    return {"path": location.path, "line": location.line, "column": location.column}


def _case_json(result: CaseResult) -> dict[str, Any]:
    decision = result.decision
    return {
        "file": result.file,
        "name": result.name,
        **_where(result.location),
        "passed": result.passed,
        "decision": None
        if decision is None
        else {
            "routeId": decision.route_id,
            "outcome": decision.outcome,
            "deploymentId": decision.deployment_id,
            "tier": decision.tier,
            "tierFloor": decision.tier_floor,
            "decodeStrategy": decision.decode_strategy,
            "sloMet": decision.slo_met,
            "reason": decision.reason,
            "predictedCostPusd": decision.predicted_cost_pusd,
            "predictedLatencyUs": decision.predicted_latency_us,
        },
        "failures": [
            {"field": f.field, "message": f.message, **_where(f.location)} for f in result.failures
        ],
    }


def to_json(report: PolicyTestReport) -> str:
    """One JSON document: tool, summary, every case (passed or not), errors and notes."""
    document = {
        "tool": {"name": "nexusctl", "version": __version__},
        "exitCode": int(report.exit_code()),
        "summary": {
            "files": list(report.files),
            "cases": len(report.results),
            "passed": len(report.results) - len(report.failed),
            "failed": len(report.failed),
            "errors": len(report.errors),
        },
        "cases": [_case_json(r) for r in report.results],
        "errors": [{"message": e.message, **_where(e.location)} for e in report.errors],
        "notes": list(report.notes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_junit(report: PolicyTestReport) -> str:
    """JUnit XML: one testsuite per test file, one testcase per case; errors as <error>.

    "No test cases found" is one failing testcase, so a CI that reads only the XML fails too.
    """
    root = ET.Element("testsuites", name="nexusctl policy test")
    suites: dict[str, ET.Element] = {}

    def suite(name: str) -> ET.Element:
        if name not in suites:
            suites[name] = ET.SubElement(root, "testsuite", name=escape_controls(name))
        return suites[name]

    for error in report.errors:
        case = ET.SubElement(suite(error.location.path), "testcase", name=str(error.location))
        ET.SubElement(case, "error", message=escape_controls(error.message))
    for result in report.results:
        case = ET.SubElement(
            suite(result.file),
            "testcase",
            name=escape_controls(result.name),
            classname=escape_controls(result.file),
            file=escape_controls(result.location.path),
            line=str(result.location.line or 0),
        )
        for failure in result.failures:
            node = ET.SubElement(case, "failure", message=escape_controls(failure.message))
            node.text = escape_controls(f"{failure.location}: {failure.message}")
    if report.no_cases:
        case = ET.SubElement(suite("nexusctl"), "testcase", name="discovery")
        ET.SubElement(case, "failure", message=summary_line(report))
    for node in suites.values():
        cases = node.findall("testcase")
        node.set("tests", str(len(cases)))
        node.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        node.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _annotation(level: str, location: Location, title: str, message: str) -> str:
    props = [f"file={escape_property(location.path)}"]
    if location.line is not None:
        props.append(f"line={location.line}")
        props.append(f"col={location.column or 1}")
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def to_github(report: PolicyTestReport) -> str:
    """GitHub workflow commands: an error annotation per error and failure, then the summary."""
    lines = [
        _annotation("error", e.location, "policy test error", e.message) for e in report.errors
    ]
    for result in report.failed:
        for failure in result.failures:
            lines.append(
                _annotation(
                    "error", failure.location, f"policy test {result.name}", failure.message
                )
            )
    if report.no_cases:
        lines.append(f"::error title=policy test::{escape_data(summary_line(report))}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
