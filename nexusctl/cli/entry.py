"""The console-script entry point: load only the command modules an invocation needs.

Building typer's command tree costs time for every command module loaded (a quarter of a
second once the registry, evidence and CI groups joined), so an invocation loads only the
modules that register on the group it names: ``nexusctl policy lint`` loads the policy
modules, ``nexusctl registry status`` the registry module. The root's own help and version
need only ``simulate``, the one root-level command (every group's help text is static,
``_apps.py``). Anything else — an unknown group, shell completion — loads the full
application. Tests check that each group's help, and the root's, is the same both ways.

pydantic's plugins are not loaded unless ``PYDANTIC_DISABLE_PLUGINS`` is set (to anything
else, even empty): looking them up scans the entry points of every installed distribution at
the first model build, a cost every command paid, and nexusctl validates signed and gated
documents that a third-party validator hook has no business seeing.
"""

from __future__ import annotations

import importlib
import os
import sys

#: Invocations answered by the root alone (with its one command, ``ROOT_MODULES``).
ROOT_ONLY: tuple[list[str], ...] = ([], ["--help"], ["-h"], ["--version"])
#: The command modules that register commands on the root itself.
ROOT_MODULES: tuple[str, ...] = ("simulate_cmds",)

#: Group name -> the command modules that register commands on it, in ``app.py``'s import
#: order (alphabetical): commands are listed in the order they were registered.
GROUP_MODULES: dict[str, tuple[str, ...]] = {
    "policy": (
        "bundle_cmds",
        "explain_cmds",
        "init_cmds",
        "lint_cmds",
        "policytest_cmds",
        "show_cmds",
    ),
    "key": ("bundle_cmds",),
    "catalog": ("catalog_cmds",),
    "schema": ("schema_cmds",),
    "traffic": ("traffic_cmds",),
    "registry": (
        "registry_cmds",
        "registry_config_cmds",
        "registry_resolve_cmds",
        "registry_sample_cmds",
    ),
    "evidence": ("evidence_cmds", "evidence_report_cmds"),
    "ci": ("ci_cmds",),
    "simulate": ROOT_MODULES,
}

#: Root options that come before the group name (none takes a value).
_ROOT_FLAGS = frozenset({"--debug", "--version", "--help", "-h"})


def group_of(args: list[str]) -> str | None:
    """The group an argument list names (after root flags), or None."""
    for arg in args:
        if arg not in _ROOT_FLAGS:
            return arg if arg in GROUP_MODULES else None
    return None


def main(argv: list[str] | None = None) -> None:
    """Run nexusctl (console-script entry point)."""
    args = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    group = group_of(args)
    if "_NEXUSCTL_COMPLETE" in os.environ or (group is None and args not in ROOT_ONLY):
        from nexusctl.cli.app import app
    else:
        from nexusctl.cli._root import app

        modules = ROOT_MODULES if group is None else GROUP_MODULES[group]
        for module in modules:
            importlib.import_module(f"nexusctl.cli.{module}")
    app(args=args, prog_name="nexusctl")
