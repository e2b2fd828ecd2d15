"""A strict, position-keeping YAML reader: one document, safe tags, no duplicate keys, bounded.

Bounds, all checked before any value is built:

* ``MAX_BYTES``: the file is read up to one byte past the cap and refused if larger.
* ``MAX_DEPTH``: nesting is measured on the flat event stream before composing (the composer
  is recursive, so an unbounded ``[[[[...`` would otherwise exhaust the stack).
* ``MAX_NODES``: PyYAML's composer shares one node between every use of an alias, so a
  "billion laughs" document composes in microseconds; the danger is in expanding it. Before
  converting, ``read_yaml`` computes the *expanded* size of every node once (memoised per node,
  so the cost is linear in the composed graph, not in the expansion) and refuses the document
  when the total passes the bound: a hostile document fails fast, in bounded memory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nexusctl.errors import InputError, Location, PolicyLoadError
from nexusctl.files import read_bounded

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class SourceMap:
    """Where each value of a loaded document sits in its file."""

    path: str
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, key: PathKey) -> Location:
        """Return the location of ``key``, or of its nearest ancestor that has one."""
        for end in range(len(key), -1, -1):
            hit = self.marks.get(key[:end])
            if hit is not None:
                return Location(self.path, hit[0], hit[1])
        return Location(self.path, 1, 1)


#: libyaml's parser and composer (C) when PyYAML was built with it: ~30x faster than Python.
_FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap]:
    """Read one YAML document from ``path`` into plain Python values and a SourceMap.

    Raises:
        PolicyLoadError: the file is missing, not a regular file (a FIFO or device is refused,
            never waited on or read without end), too large, not UTF-8, empty, holds several
            documents, duplicate keys, unsafe tags, nests too deep, or expands beyond the
            node bound.
    """
    shown = display or str(path)
    whole_file = Location(shown, 1, 1)
    try:
        raw = read_bounded(path, MAX_BYTES)
    except InputError as exc:
        detail = str(exc).removeprefix(f"{path}: ")
        where = whole_file if "larger than" in detail else Location(shown)
        raise PolicyLoadError(where, detail) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PolicyLoadError(
            Location(shown, line, col), f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    root = _compose(text, shown)
    if root is None:
        raise PolicyLoadError(whole_file, "file is empty (expected one YAML document)")
    _check_expansion(root, shown)
    marks: dict[PathKey, tuple[int, int]] = {}
    loader = yaml.SafeLoader("")
    try:
        value = _convert(root, (), marks, loader, shown)
    finally:
        loader.dispose()
    return value, SourceMap(shown, marks)


def _compose(text: str, shown: str) -> yaml.Node | None:
    """Parse ``text`` into one node graph, refusing deep nesting before composing.

    The composer recurses once per nesting level (in C for libyaml, where no recursion
    limit protects the stack), so nesting is first measured on the flat event stream.
    """
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_FastLoader):
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise PolicyLoadError(
                        _mark_location(shown, event.start_mark),
                        f"nesting deeper than {MAX_DEPTH} levels",
                    )
            elif isinstance(event, _CLOSE):
                depth -= 1
        loader = _FastLoader(text)
        try:
            node: yaml.Node | None = loader.get_single_node()
        finally:
            loader.dispose()
        return node
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc):
            raise PolicyLoadError(
                _mark_location(shown, exc.problem_mark), "file holds more than one YAML document"
            ) from None
        raise _yaml_error(shown, exc, text) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(shown, exc, text) from None


def _check_expansion(root: yaml.Node, shown: str) -> None:
    """Refuse a document whose alias expansion exceeds ``MAX_NODES`` (memoised, linear)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in active:
            raise PolicyLoadError(
                _mark_location(shown, node.start_mark), "recursive alias (a node contains itself)"
            )
        active.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
        active.discard(id(node))
        sizes[id(node)] = total
        return total

    if size(root) <= MAX_NODES:
        return
    culprit = root
    while True:
        children: list[yaml.Node] = []
        if isinstance(culprit, yaml.MappingNode):
            children = [v for _, v in culprit.value]
        elif isinstance(culprit, yaml.SequenceNode):
            children = list(culprit.value)
        bigger = next((c for c in children if sizes[id(c)] > MAX_NODES), None)
        if bigger is None:
            break
        culprit = bigger
    raise PolicyLoadError(
        _mark_location(shown, culprit.start_mark),
        f"document expands to more than {MAX_NODES} nodes through aliases (alias bomb?)",
    )


def _mark_location(shown: str, mark: Any) -> Location:
    if mark is None:
        return Location(shown, 1, 1)
    return Location(shown, mark.line + 1, mark.column + 1)


def _yaml_error(shown: str, exc: yaml.YAMLError, text: str) -> PolicyLoadError:
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = _offset_location(
            text, exc.position, byte_offsets=_FastLoader is not yaml.SafeLoader
        )
        what = (
            f"unacceptable character #x{exc.character:04x}: {exc.reason}"
            if isinstance(exc.character, int)
            else str(exc.reason)
        )
        return PolicyLoadError(Location(shown, line, col), f"YAML syntax error: {what}")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return PolicyLoadError(_mark_location(shown, mark), f"YAML syntax error: {detail}")


def _offset_location(text: str, offset: int, *, byte_offsets: bool) -> tuple[int, int]:
    """1-based (line, column in characters) of a character or UTF-8 byte offset."""
    prefix = (
        text.encode("utf-8")[:offset].decode("utf-8", "ignore") if byte_offsets else text[:offset]
    )
    line = prefix.count("\n") + 1
    return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


def _convert(
    node: yaml.Node,
    key: PathKey,
    marks: dict[PathKey, tuple[int, int]],
    loader: yaml.SafeLoader,
    shown: str,
) -> Any:
    marks.setdefault(key, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            raise PolicyLoadError(_mark_location(shown, node.start_mark), f"tag {node.tag} refused")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                raise PolicyLoadError(
                    _mark_location(shown, key_node.start_mark),
                    "mapping keys must be plain strings (merge keys are not supported)",
                )
            name = key_node.value
            if name in result:
                first = marks.get((*key, name))
                seen = f" (first at line {first[0]})" if first else ""
                raise PolicyLoadError(
                    _mark_location(shown, key_node.start_mark), f"duplicate key '{name}'{seen}"
                )
            child = (*key, name)
            marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[name] = _convert(value_node, child, marks, loader, shown)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            raise PolicyLoadError(_mark_location(shown, node.start_mark), f"tag {node.tag} refused")
        return [
            _convert(item, (*key, i), marks, loader, shown) for i, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise PolicyLoadError(
            _mark_location(shown, node.start_mark), f"cannot read value: {exc.problem}"
        ) from None
    except ValueError as exc:
        detail = str(exc)
        if "integer string conversion" in detail:  # CPython's int-from-text digit limit
            detail = f"integer with more than {sys.get_int_max_str_digits()} digits"
        raise PolicyLoadError(
            _mark_location(shown, node.start_mark), f"cannot read value: {detail}"
        ) from None
