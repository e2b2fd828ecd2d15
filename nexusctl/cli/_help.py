"""Help that reads well in an 80-column terminal and in a CI log.

Typer's rich help prints a parameter's Python type as its metavar (``<bool>`` beside a flag,
``<list[Path]>`` beside a list argument, ``<path>``) and keeps the docstring's own line breaks
inside a paragraph, so at 80 columns each source line wraps again, raggedly. ``install`` (run
once, when the root application is built) makes every command's help:

* name a value in words, as click does (``PATH``, ``FILE``, ``TEXT``, ``INTEGER``, ``NUMBER``,
  ``...`` for a repeated argument), show choices as ``<a|b|c>``, and nothing beside a flag;
  an explicit ``metavar=`` always wins;
* leave escape codes out when the output is not a terminal (typer forces them whenever
  ``GITHUB_ACTIONS`` is set) and out altogether under ``NO_COLOR``;
* join the lines of a paragraph, so rich wraps each paragraph once at the terminal's width
  (a paragraph opening with ``\\b``, and a line opening a list item, keep their breaks).

``tests/cli/test_help_narrow.py`` walks every command's help at ``COLUMNS=80`` to hold it.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, get_args

from nexusctl.cli._common import no_color

if TYPE_CHECKING:
    from typer.core import TyperArgument, TyperOption

#: Python type name -> the word the help shows.
WORDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "Decimal": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "Path": "PATH",
    "datetime": "DATETIME",
}
#: A line that keeps its break: a list item, or an indented line (an example, a table).
_LIST_ITEM = re.compile(r"^(?:\s+\S|\s*(?:[-*•]|\d+[.)])\s)")
_installed = {"done": False}


def _word(annotation: Any, path_type: str | None) -> str:
    if path_type is not None:
        return WORDS.get(path_type, "PATH")
    name = getattr(annotation, "__name__", str(annotation))
    return WORDS.get(name, name.upper())


def value_words(param: TyperOption | TyperArgument) -> str | None:
    """What the help shows beside ``param``: a word, choices, or None for a flag."""
    from typer.core import TyperOption

    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return None
    if isinstance(param, TyperOption) and param.metavar is not None:
        return param.metavar
    desc = param.type_descriptor
    many = desc.is_list or param.nargs != 1
    if desc.is_choice and desc.choices is not None:
        text = "<" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + ">"
    elif desc.is_tuple:
        text = " ".join(_word(arg, None) for arg in get_args(desc.annotation))
    elif desc.is_list:
        (element,) = get_args(desc.annotation) or (str,)
        text = _word(element, desc.path_type if desc.is_path else None)
    elif desc.is_datetime:
        text = "DATETIME"
    else:
        text = _word(desc.annotation, desc.path_type if desc.is_path else None)
    if many and not isinstance(param, TyperOption):
        text += "..."
    return text


def join_paragraph_lines(paragraphs: list[str], markup_mode: Any = None) -> str:
    """Join each paragraph's lines with spaces; list items and indented lines keep their breaks.

    A paragraph opening with ``\\b`` (click's "do not rewrap" mark) is left as it is.
    """
    joined = []
    for paragraph in paragraphs:
        if paragraph.startswith("\b"):
            joined.append(paragraph)
            continue
        lines = paragraph.split("\n")
        text = lines[0]
        for line in lines[1:]:
            text += "\n" + line.rstrip() if _LIST_ITEM.match(line) else " " + line.strip()
        joined.append(text)
    return "\n\n".join(joined)


def install() -> None:
    """Use ``value_words`` and ``join_paragraph_lines`` in every command's help (idempotent)."""
    if _installed["done"]:
        return
    from typer import rich_utils
    from typer.core import TyperArgument, TyperOption

    def option_type(self: TyperOption, ctx: Any) -> str | None:
        return value_words(self)

    def argument_type(self: TyperArgument, ctx: Any) -> str | None:
        return value_words(self)

    # Typer has no public hook for either; the narrow-help test fails if these names move.
    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign,assignment]
    rich_utils._fix_linebreaks = join_paragraph_lines
    # Typer forces escape codes whenever GITHUB_ACTIONS is set, even into a pipe or a file;
    # here only FORCE_COLOR / PY_COLORS force them, and NO_COLOR turns every style off.
    if no_color():
        rich_utils.COLOR_SYSTEM = None
        rich_utils.FORCE_TERMINAL = False
    elif not (os.environ.get("FORCE_COLOR") or os.environ.get("PY_COLORS")):
        rich_utils.FORCE_TERMINAL = None
    _installed["done"] = True
