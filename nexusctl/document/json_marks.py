"""Where each value of a JSON document sits: a SourceMap for JSON, as ``read_yaml`` gives YAML.

``json_source_map`` runs over text that ``strict_json.loads_strict`` has already accepted
(valid, bounded nesting), so it only needs to find positions, not to judge the grammar: a
member is located at its key (as YAML members are), an array item at its first character,
the document at its first non-blank character. Lines and columns are 1-based, columns count
characters (RFC 8259 §2 whitespace: space, tab, LF, CR).
"""

from __future__ import annotations

import bisect
import contextlib
import json.decoder
import re
from collections.abc import Callable

from nexusctl.document.source import PathKey, SourceMap

_BLANK = re.compile(r"[ \t\n\r]*")
#: The C string scanner ``json`` itself uses (typeshed does not declare it).
_scanstring: Callable[[str, int], tuple[str, int]] = getattr(json.decoder, "scanstring")  # noqa: B009
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def json_source_map(text: str, shown: str) -> SourceMap:
    """Return the SourceMap of the JSON document ``text`` (already validated), named ``shown``.

    Text that is not valid JSON after all yields the marks found before the problem.
    """
    marks: dict[PathKey, tuple[int, int]] = {}
    line_starts = [0, *(match.end() for match in re.finditer("\n", text))]
    scanner = _Scanner(text, line_starts, marks)
    with contextlib.suppress(ValueError, IndexError):
        scanner.value(scanner.skip(0), ())
    return SourceMap(shown, marks)


class _Scanner:
    def __init__(
        self, text: str, line_starts: list[int], marks: dict[PathKey, tuple[int, int]]
    ) -> None:
        self.text = text
        self.line_starts = line_starts
        self.marks = marks

    def skip(self, index: int) -> int:
        match = _BLANK.match(self.text, index)
        return match.end() if match else index

    def mark(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def value(self, index: int, key: PathKey) -> int:
        """Record ``key`` at ``index`` (unless its member key was recorded); return the end."""
        self.marks.setdefault(key, self.mark(index))
        first = self.text[index]
        if first == "{":
            return self.members(index + 1, key)
        if first == "[":
            return self.items(index + 1, key)
        if first == '"':
            return self.string(index)[1]
        match = _SCALAR.match(self.text, index)
        if match is None:
            raise ValueError(f"no JSON value at {index}")
        return match.end()

    def string(self, index: int) -> tuple[str, int]:
        """The JSON string starting at ``index`` (its opening quote), decoded, and its end."""
        return _scanstring(self.text, index + 1)

    def members(self, index: int, key: PathKey) -> int:
        index = self.skip(index)
        if self.text[index] == "}":
            return index + 1
        while True:
            start = index
            name, index = self.string(index)
            self.marks[(*key, name)] = self.mark(start)
            index = self.skip(self.skip(index) + 1)  # past ':'
            index = self.skip(self.value(index, (*key, name)))
            if self.text[index] == "}":
                return index + 1
            index = self.skip(index + 1)  # past ','

    def items(self, index: int, key: PathKey) -> int:
        index = self.skip(index)
        if self.text[index] == "]":
            return index + 1
        position = 0
        while True:
            index = self.skip(self.value(index, (*key, position)))
            position += 1
            if self.text[index] == "]":
                return index + 1
            index = self.skip(index + 1)
