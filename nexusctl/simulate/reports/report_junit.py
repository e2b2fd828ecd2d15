"""Render a simulation verdict as JUnit XML: one test case per gate, a failure per failed gate.

The layout is the common denominator CI systems read (Jenkins, GitLab, GitHub test-reporter
actions): ``<testsuites>`` > ``<testsuite>`` > ``<testcase classname name time>`` with a
``<failure message type>`` child when a gate failed. Built with ``xml.etree`` so every
attribute and text node is escaped by the serializer, never by hand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from nexusctl.simulate.reports import _format as fmt
from nexusctl.simulate.result import SimulationResult


def render_junit(result: SimulationResult) -> str:
    """Return the JUnit XML document (UTF-8 declaration included)."""
    gates = result.verdict.gates
    failures = sum(not g.passed for g in gates)
    suite_name = (
        f"nexusctl simulate {result.baseline.name} v{result.baseline.version} → "
        f"{result.candidate.name} v{result.candidate.version}"
    )
    counts = {"tests": str(len(gates)), "failures": str(failures), "errors": "0", "skipped": "0"}
    root = ET.Element("testsuites", {"name": "nexusctl simulate", **counts, "time": "0"})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **counts, "time": "0"})
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("baseline.sha256", result.baseline.sha256),
        ("candidate.sha256", result.candidate.sha256),
        ("traffic.path", result.traffic.path),
        ("traffic.sha256", result.traffic.sha256),
        ("traffic.rows", str(result.traffic.rows)),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for gate in gates:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "nexusctl.simulate.gates", "name": gate.name, "time": "0"},
        )
        detail = (
            f"{gate.description}: value {fmt.gate_value(gate)}, threshold "
            f"{fmt.gate_threshold(gate)} (threshold from {gate.source})"
        )
        if gate.passed:
            ET.SubElement(case, "system-out").text = detail
        else:
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": f"{gate.name}: {fmt.gate_value(gate)}, "
                    f"required {fmt.gate_threshold(gate)}",
                    "type": "GateFailed",
                },
            )
            failure.text = detail
    ET.SubElement(suite, "system-out").text = fmt.headline(result)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
