"""Render a LintReport as SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format).

Layout follows the OASIS SARIF v2.1.0 specification: one run; ``tool.driver`` carries every
rule (§3.49 reportingDescriptor) so ``result.ruleIndex`` indexes it (§3.27.6); artifact URIs are
relative with forward slashes against the ``SRCROOT`` base id (§3.4.4, §3.14.14) when a root
is given; suppressed findings are results with an ``inSource`` suppression carrying the
policy's justification (§3.35).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from nexusctl import __version__
from nexusctl.lint.findings import RULES, TOOL_URL, Finding, LintReport, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def _sentence(text: str) -> str:
    """SARIF messages are sentences (validator rule SARIF2001): end with a period."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _uri(path: str) -> tuple[str, bool]:
    """Return (uri, relative?) for a displayed path."""
    posix = path.replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return "file://" + quote(posix, safe="/"), False
    posix = posix.removeprefix("./")
    return quote(posix, safe="/"), True


def to_sarif(report: LintReport, fail_on: Severity, root_uri: str | None = None) -> str:
    """One SARIF 2.1.0 log with every rule, every finding (suppressed ones marked) and files.

    ``root_uri`` is the absolute ``file:`` URI of the folder relative paths start from (it
    ends with '/'); when given it becomes ``originalUriBaseIds.SRCROOT``.
    """
    rule_ids = list(RULES)
    artifacts: dict[str, int] = {}
    every = [*report.findings, *report.suppressed]
    for path in [*report.policies, *report.catalogs, *(item.path for item in every)]:
        artifacts.setdefault(path, len(artifacts))
    results = [
        _result(item, rule_ids, artifacts, root_uri) for item in sorted(every, key=Finding.sort_key)
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "nexusctl",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": TOOL_URL,
                "rules": [_rule(rule_id) for rule_id in rule_ids],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not report.invalid_input,
                "exitCode": int(report.exit_code(fail_on)),
            }
        ],
        "artifacts": [
            {
                "location": _artifact_location(path, None, root_uri),
                "roles": ["analysisTarget"],
                "mimeType": "application/yaml",
            }
            for path in artifacts
        ],
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if root_uri is not None:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": root_uri}}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": _pascal(rule.name),
        "shortDescription": {"text": _sentence(rule.summary)},
        "fullDescription": {"text": _sentence(rule.description)},
        "helpUri": rule.help_uri,
        "help": {"text": f"See {rule.help_uri}"},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
    }


def _pascal(name: str) -> str:
    """SARIF rule names are PascalCase identifiers (validator rule SARIF2012)."""
    return "".join(part.capitalize() for part in name.split("-"))


def _artifact_location(path: str, index: int | None, root_uri: str | None) -> dict[str, Any]:
    uri, relative = _uri(path)
    location: dict[str, Any] = {"uri": uri}
    if relative and root_uri is not None:
        location["uriBaseId"] = "SRCROOT"
    if index is not None:
        location["index"] = index
    return location


def _result(
    item: Finding, rule_ids: list[str], artifacts: dict[str, int], root_uri: str | None
) -> dict[str, Any]:
    physical: dict[str, Any] = {
        "artifactLocation": _artifact_location(item.path, artifacts.get(item.path), root_uri)
    }
    if item.line is not None:
        physical["region"] = {"startLine": item.line, "startColumn": item.column or 1}
    result: dict[str, Any] = {
        "ruleId": item.rule,
        "ruleIndex": rule_ids.index(item.rule),
        "level": _LEVEL[item.severity],
        "message": {"text": _sentence(item.message)},
        "locations": [{"physicalLocation": physical}],
    }
    if item.suppressed is not None:
        result["suppressions"] = [
            {"kind": "inSource", "status": "accepted", "justification": item.suppressed.reason}
        ]
    return result
