"""Generate docs/cli.md, the command reference, from the typer application itself.

Every command the application registers is documented, with its usage line, its help text
and a table of its arguments and options, walked from the same click objects ``--help``
renders (so a command registered later appears as soon as it is registered). The output does
not depend on the terminal: no rich rendering, no widths. ``tests/unit/test_cli_reference.py``
fails when the committed page differs from what the application says now.

    python -m nexusctl.cli.reference            # rewrite docs/cli.md
    python -m nexusctl.cli.reference --check    # exit 1 when docs/cli.md is stale
"""

from __future__ import annotations

import enum
import sys
import types
import typing
from pathlib import Path
from typing import Any

import typer

HEADER = (
    "# nexusctl command reference\n\n"
    "Generated from the commands' own `--help` by `python -m nexusctl.cli.reference`; do not\n"
    "edit by hand (a test fails when this page and the commands disagree). Exit codes shared\n"
    "by every command: [exit-codes.md](exit-codes.md).\n"
)


def _text(value: str) -> str:
    """Escape text for Markdown prose: HTML (so ``<!-- … -->`` stays visible), nothing else."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value: str) -> str:
    return _text(" ".join(value.split())).replace("|", "\\|")


def _default(param: Any) -> str:
    default = param.default
    if default is None or default is False or callable(default) or param.required:
        return ""
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, (list, tuple)):
        if not default:
            return ""
        default = ", ".join(str(d.value if isinstance(d, enum.Enum) else d) for d in default)
    return f"`{default}`"


_TYPE_NAMES = {bool: "flag", int: "integer", float: "number", str: "text", Path: "path"}


def _kind(param: Any) -> str:
    """The value a parameter takes, from its annotation (typer keeps it on the parameter)."""
    if param.metavar:
        return str(param.metavar)
    annotation = param.type_descriptor.annotation
    many = typing.get_origin(annotation) in (list, tuple)
    if many:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        name = " | ".join(str(member.value) for member in annotation)
    else:
        name = _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", "value").lower())
    return f"{name} ..." if many else name


def _params(command: Any) -> list[str]:
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if isinstance(param, typer.core.TyperArgument):
            names = f"`{(param.name or '').upper()}`"
        else:
            names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        help_text = getattr(param, "help", None) or ""
        envvar = getattr(param, "envvar", None)
        if envvar:
            help_text += f" (env: {envvar if isinstance(envvar, str) else ', '.join(envvar)})"
        rows.append(
            f"| {names} | {_cell(_kind(param))} | {'yes' if param.required else ''} | "
            f"{_default(param)} | {_cell(help_text)} |"
        )
    if not rows:
        return []
    return [
        "| name | type | required | default | description |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def _section(command: Any, ctx: Any, level: int) -> list[str]:
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines = [f"{'#' * level} `{ctx.command_path}`", "", "```text", usage, "```", ""]
    help_text = (command.help or "").strip()
    if help_text:
        lines += [_text(help_text), ""]
    lines += _params(command)
    subcommands = getattr(command, "list_commands", None)
    if subcommands is None:
        return lines
    names = [n for n in subcommands(ctx) if not command.get_command(ctx, n).hidden]
    if names:
        lines += ["| command | what it does |", "| --- | --- |"]
        for name in names:
            child = command.get_command(ctx, name)
            anchor = f"{ctx.command_path} {name}"
            lines.append(
                f"| [`{name}`](#{_anchor(anchor)}) | {_cell(child.get_short_help_str(200))} |"
            )
        lines.append("")
    for name in names:
        child = command.get_command(ctx, name)
        child_ctx = child.make_context(name, [], parent=ctx, resilient_parsing=True)
        lines += _section(child, child_ctx, min(level + 1, 4))
    return lines


def _anchor(heading: str) -> str:
    # GitHub's heading anchors: lower case, spaces to '-', punctuation other than '-' dropped.
    return "".join(c for c in heading.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def render_cli_reference(app: typer.Typer, prog_name: str = "nexusctl") -> str:
    """Return the Markdown command reference of ``app``."""
    root = typer.main.get_command(app)
    ctx = root.make_context(prog_name, [], resilient_parsing=True)
    lines = [HEADER, *_section(root, ctx, 2)]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/cli.md (or with --check, report whether it is current); return the exit code."""
    from nexusctl.cli.app import app

    args = sys.argv[1:] if argv is None else argv
    target = Path("docs/cli.md")
    text = render_cli_reference(app)
    if "--check" in args:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            sys.stderr.write(f"{target} is stale: run python -m nexusctl.cli.reference\n")
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
