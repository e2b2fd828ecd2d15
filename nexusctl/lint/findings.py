"""The lint rule catalogue, findings and the report a lint run returns.

Rule ids are stable: a rule is never renumbered and a retired id is never reused. Each rule
has a page at ``docs/rules/<ID>.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from nexusctl.errors import ExitCode

Severity = Literal["error", "warning", "note"]
SEVERITY_RANK: dict[Severity, int] = {"note": 0, "warning": 1, "error": 2}

DOCS_URL = "https://nexuscore.io/nexusctl/docs/rules/"
TOOL_URL = "https://nexuscore.io/nexusctl/"


@dataclass(frozen=True)
class Rule:
    """A lint rule's metadata (the same data feeds the text, JSON and SARIF outputs)."""

    id: str
    name: str
    severity: Severity
    summary: str
    description: str

    @property
    def help_uri(self) -> str:
        """Where the rule's documentation page lives."""
        return f"{DOCS_URL}{self.id}.md"


_RULE_LIST = [
    Rule(
        "NXL000",
        "invalid-input",
        "error",
        "The file could not be loaded (YAML, schema or file reference error).",
        "A policy or catalog that does not load cannot be linted; the run exits 3.",
    ),
    Rule(
        "NXL001",
        "frontier-catch-all",
        "error",
        "A route without a match condition allows the frontier tier.",
        "The default route, and any route with no match condition, receives every request no "
        "earlier route took; letting it use the frontier tier makes the most expensive models "
        "the default.",
    ),
    Rule(
        "NXL002",
        "shadowed-route",
        "warning",
        "A route can never match because an earlier route matches a superset of its requests.",
        "Routes are tried in order and the first match wins; a route whose every request is "
        "taken by an earlier route is dead configuration.",
    ),
    Rule(
        "NXL003",
        "unknown-reference",
        "error",
        "A reference names a deployment, route, chain, residency class, tenant, provider or "
        "region that does not exist.",
        "References in routes, fallback chains, guardrails and escalation rules must resolve; "
        "a guardrail that denies a misspelt provider denies nothing.",
    ),
    Rule(
        "NXL004",
        "fallback-cycle",
        "error",
        "Fallback chains form a cycle through 'then'.",
        "A chain that continues with itself (directly or through other chains) never ends.",
    ),
    Rule(
        "NXL005",
        "residency-escape",
        "error",
        "A fallback path sends a residency class's requests to a region it does not allow.",
        "Gateways replay fallback chains without re-checking residency, so every deployment "
        "reachable through a route's fallback chain closure must sit in an allowed region of "
        "every residency class that can reach the route.",
    ),
    Rule(
        "NXL006",
        "missing-price",
        "error",
        "A deployment has no pricing.",
        "Without a price the router cannot compute cost, enforce cost caps or attribute spend.",
    ),
    Rule(
        "NXL007",
        "unknown-price-source",
        "error",
        "A per-token price names a price table or key that the catalog's price table lacks.",
        "Prices are imported from a versioned price table; a source that does not resolve "
        "cannot be refreshed or audited.",
    ),
    Rule(
        "NXL008",
        "cost-cap-unreachable",
        "error",
        "A route's per-request cost cap is below the cheapest eligible deployment.",
        "Checked on the reference request (1,000 input, 500 output tokens, load 1): every such "
        "request would be refused or escalated.",
    ),
    Rule(
        "NXL009",
        "slo-unreachable",
        "warning",
        "No eligible deployment meets the route's latency SLO.",
        "Checked on the reference request (1,000 input, 500 output tokens) at load 1 with the "
        "fastest decode option; every such request would miss its SLO.",
    ),
    Rule(
        "NXL010",
        "empty-route",
        "error",
        "A route has no eligible deployment after tiers, guardrails and residency.",
        "The route's allowed tiers hold no deployment that survives its unconditional guardrails "
        "(or none in the regions of a residency class that reaches it).",
    ),
    Rule(
        "NXL011",
        "duplicate-id",
        "error",
        "Two items of the same kind share an id.",
        "Ids of routes (including the default), deployments, chains, residency classes, "
        "tenants, guardrails and escalation rules must be unique.",
    ),
    Rule(
        "NXL012",
        "expired-suppression",
        "warning",
        "A suppression's expiry date has passed; it no longer suppresses anything.",
        "Suppressions are temporary by design; renew the reason or fix the finding.",
    ),
    Rule(
        "NXL013",
        "version-not-increased",
        "error",
        "metadata.version is not greater than the previous version of the policy.",
        "Policy versions increase monotonically so registries can refuse rollbacks.",
    ),
    Rule(
        "NXL014",
        "unused-suppression",
        "note",
        "A suppression matched no finding (or names a rule that does not exist).",
        "Stale suppressions hide future findings; remove them once the finding is fixed.",
    ),
    Rule(
        "NXL015",
        "guardrail-escape",
        "error",
        "A fallback path sends requests to a deployment that one of their guardrails denies.",
        "Gateways replay fallback chains without re-checking guardrails, so no deployment "
        "reachable through a route's fallback chain closure may be denied by a guardrail that "
        "applies to requests reaching the route.",
    ),
    Rule(
        "NXL016",
        "control-character",
        "error",
        "Policy or catalog text holds a terminal control character or a bidirectional override.",
        "Descriptions, reasons and other text are shown on terminals and in CI logs; an escape "
        'sequence (YAML\'s "\\e[2J") would clear the screen or rewrite lines, and a '
        "bidirectional override shows text in another order than it is stored.",
    ),
    Rule(
        "NXL017",
        "dead-complexity-floor",
        "error",
        "A complexity threshold raises a route's tier floor to where no deployment may serve.",
        "Checked on the reference request (1,000 input, 500 output tokens, load 1) for every "
        "tier floor a route's complexity thresholds reach: at that floor no deployment passes "
        "residency, guardrails, the context window and the cost cap, so every request at or "
        "above the threshold is refused or escalated. The finding names the threshold.",
    ),
    Rule(
        "NXL018",
        "region-deny-list",
        "note",
        "A guardrail denies regions by name; a region added to the catalog later passes it.",
        "A deny-list keeps out only what it names; an allow-list (allowRegions) keeps out "
        "everything it does not name, so a new region is out until someone adds it. The note "
        "offers the allow-list that decides the same on today's catalog.",
    ),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULE_LIST}


@dataclass(frozen=True)
class Suppressed:
    """Why a finding was suppressed (the policy's justification)."""

    reason: str
    path: str
    line: int | None
    column: int | None


@dataclass(frozen=True)
class Finding:
    """One problem: a rule, a severity, one line of text and where it is.

    ``targets`` are the ids the finding is about (a suppression's ``target`` must name one).
    """

    rule: str
    message: str
    path: str
    line: int | None = None
    column: int | None = None
    targets: tuple[str, ...] = ()
    severity: Severity = "error"
    suppressed: Suppressed | None = None

    @property
    def location(self) -> str:
        """``path:line:column`` (or fewer parts when unknown)."""
        if self.line is None:
            return self.path
        return f"{self.path}:{self.line}:{self.column or 1}"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order findings by file, position, rule and message (stable output)."""
        return (self.path, self.line or 0, self.column or 0, self.rule, self.message)

    def suppress(self, suppressed: Suppressed) -> Finding:
        """Return this finding marked as suppressed."""
        return replace(self, suppressed=suppressed)


@dataclass(frozen=True)
class LintReport:
    """What a lint run found: active and suppressed findings, files read, notes."""

    findings: tuple[Finding, ...]
    suppressed: tuple[Finding, ...]
    policies: tuple[str, ...]
    catalogs: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def invalid_input(self) -> bool:
        """True when some file failed to load (the run must exit 3)."""
        return any(f.rule == "NXL000" for f in self.findings)

    def count(self, severity: Severity) -> int:
        """Count active findings of one severity."""
        return sum(1 for f in self.findings if f.severity == severity)

    def failing(self, fail_on: Severity) -> tuple[Finding, ...]:
        """Return the active findings at or above ``fail_on``."""
        floor = SEVERITY_RANK[fail_on]
        return tuple(f for f in self.findings if SEVERITY_RANK[f.severity] >= floor)

    def exit_code(self, fail_on: Severity) -> ExitCode:
        """INVALID_INPUT (3) when a file did not load, FINDINGS (1) for findings at or above
        ``fail_on``, else OK (0)."""
        if self.invalid_input:
            return ExitCode.INVALID_INPUT
        return ExitCode.FINDINGS if self.failing(fail_on) else ExitCode.OK


def finding(
    rule_id: str,
    message: str,
    where: tuple[str, int | None, int | None],
    *targets: str,
) -> Finding:
    """Build a finding of ``rule_id`` at its rule's default severity."""
    path, line, column = where
    return Finding(
        rule=rule_id,
        message=message,
        path=path,
        line=line,
        column=column,
        targets=tuple(targets),
        severity=RULES[rule_id].severity,
    )
