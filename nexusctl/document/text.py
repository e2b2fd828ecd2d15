"""Control characters in document text: which ones are dangerous, and how to show them safely.

A policy's free text (descriptions, reasons, labels, owners) ends up on terminals (``policy
show``, ``explain``, lint output) and in CI logs. YAML refuses most raw control bytes, but its
double-quoted escapes (``"\\e[2J"``, ``"\\x9b"``, ``"\\u202e"``) produce them, and a terminal
obeys them: clear the screen, rewrite a line, retitle the window, or (bidirectional overrides,
"Trojan Source", CVE-2021-42574) show text in another order than it is stored.

``CONTROL_CHARACTERS`` is the one declaration: C0 controls except tab and line feed, DEL, the
C1 controls, and the Unicode bidirectional embedding, override and isolate marks. Lint reports
them (NXL016); every text renderer shows them as visible escapes (``\\x1b``, ``\\u202e``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from nexusctl.document.source import PathKey

CONTROL_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """Return ``text`` with every control character written as a visible escape."""
    return CONTROL_CHARACTERS.sub(_visible, text)


def find_controls(value: Any, key: PathKey = ()) -> Iterator[tuple[PathKey, str]]:
    """Yield (path, escaped character) for each string in ``value`` holding a control character.

    ``value`` is plain data (dicts, lists, scalars) as read from a document; mapping keys are
    checked as well as values. One hit per string: its first control character.
    """
    if isinstance(value, str):
        hit = CONTROL_CHARACTERS.search(value)
        if hit is not None:
            yield key, _visible(hit)
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from find_controls(name, (*key, name))
            yield from find_controls(item, (*key, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find_controls(item, (*key, index))
