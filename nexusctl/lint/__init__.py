"""Policy lint: stable rule ids, locations from the source maps, suppressions, formats."""

from nexusctl.lint.engine import lint_paths
from nexusctl.lint.findings import RULES, Finding, LintReport, Rule, Severity

__all__ = ["RULES", "Finding", "LintReport", "Rule", "Severity", "lint_paths"]
