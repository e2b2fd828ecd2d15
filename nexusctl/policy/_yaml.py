"""A strict, position-keeping YAML reader: one document, safe tags, no duplicate keys, bounded.

PyYAML's composer shares one node between every use of an alias, so a "billion laughs"
document composes in microseconds; the danger is in expanding it. ``read_yaml`` converts the
node graph itself and counts every node it visits, aliases included, refusing past
``MAX_NODES``: a hostile document fails fast, in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nexusctl.errors import Location, PolicyLoadError

MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]


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
        return Location(self.path)


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap]:
    """Read one YAML document from ``path`` into plain Python values and a SourceMap.

    Raises:
        PolicyLoadError: the file is missing, too large, not UTF-8, empty, holds several
            documents, duplicate keys, unsafe tags, or expands beyond the node bound.
    """
    shown = display or str(path)
    where = Location(shown)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PolicyLoadError(where, "file not found") from None
    except IsADirectoryError:
        raise PolicyLoadError(where, "is a directory, expected a YAML file") from None
    except OSError as exc:
        raise PolicyLoadError(where, f"cannot read file: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise PolicyLoadError(where, f"file is larger than the {MAX_BYTES // 1024} KiB cap")
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
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc):
            mark = exc.problem_mark
            raise PolicyLoadError(
                _mark_location(shown, mark), "file holds more than one YAML document"
            ) from None
        raise _yaml_error(shown, exc) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(shown, exc) from None
    finally:
        loader.dispose()
    if root is None:
        raise PolicyLoadError(where, "file is empty")
    marks: dict[PathKey, tuple[int, int]] = {}
    budget = [MAX_NODES]
    value = _convert(root, (), marks, loader, shown, budget, 0)
    return value, SourceMap(shown, marks)


def _mark_location(shown: str, mark: Any) -> Location:
    if mark is None:
        return Location(shown)
    return Location(shown, mark.line + 1, mark.column + 1)


def _yaml_error(shown: str, exc: yaml.YAMLError) -> PolicyLoadError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return PolicyLoadError(_mark_location(shown, mark), f"YAML syntax error: {problem}")


def _convert(
    node: yaml.Node,
    key: PathKey,
    marks: dict[PathKey, tuple[int, int]],
    loader: yaml.SafeLoader,
    shown: str,
    budget: list[int],
    depth: int,
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise PolicyLoadError(
            _mark_location(shown, node.start_mark),
            f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
        )
    if depth > MAX_DEPTH:
        raise PolicyLoadError(
            _mark_location(shown, node.start_mark), f"nesting deeper than {MAX_DEPTH} levels"
        )
    marks.setdefault(key, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
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
            result[name] = _convert(value_node, child, marks, loader, shown, budget, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise PolicyLoadError(_mark_location(shown, node.start_mark), f"tag {node.tag} refused")
        return [
            _convert(item, (*key, i), marks, loader, shown, budget, depth + 1)
            for i, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise PolicyLoadError(
            _mark_location(shown, node.start_mark), f"cannot read value: {exc.problem}"
        ) from None
    except ValueError as exc:
        raise PolicyLoadError(
            _mark_location(shown, node.start_mark), f"cannot read value: {exc}"
        ) from None
