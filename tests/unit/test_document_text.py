"""Control characters: one set, escaped visibly for terminals, found for lint (NXL016)."""

from __future__ import annotations

import pytest

from nexusctl.document.text import escape_controls, find_controls


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("bell\x07", "bell\\x07"),
        ("c1 \x9b31m", "c1 \\x9b31m"),
        ("del\x7f", "del\\x7f"),
        ("rlo \u202eevil", "rlo \\u202eevil"),
        ("isolate \u2066x\u2069", "isolate \\u2066x\\u2069"),
        ("cr\rlf", "cr\\x0dlf"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("accents é and emoji ✓ stay", "accents é and emoji ✓ stay"),
    ],
)
def test_escape_controls(raw: str, shown: str) -> None:
    assert escape_controls(raw) == shown


def test_find_controls_walks_values_and_keys_with_paths() -> None:
    data = {"a": ["fine", "bad\x1b"], "k\u202e": 1, "n": {"deep": "\x9b"}, "num": 3}
    assert list(find_controls(data)) == [
        (("a", 1), "\\x1b"),
        (("k\u202e",), "\\u202e"),
        (("n", "deep"), "\\x9b"),
    ]
    assert list(find_controls({"clean": ["text", 1, None]})) == []
