"""The full nexusctl application: the root plus every command module, registered on import."""

from __future__ import annotations

from nexusctl.cli import (  # noqa: F401  (each module registers its commands)
    bundle_cmds,
    catalog_cmds,
    ci_cmds,
    evidence_cmds,
    evidence_report_cmds,
    explain_cmds,
    init_cmds,
    lint_cmds,
    policytest_cmds,
    registry_cmds,
    registry_config_cmds,
    registry_resolve_cmds,
    registry_sample_cmds,
    schema_cmds,
    show_cmds,
    simulate_cmds,
    traffic_cmds,
)
from nexusctl.cli._root import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI with every command loaded."""
    app(prog_name="nexusctl")
