"""Rewrite price scalars inside a catalog's YAML text, keeping every comment and the layout.

The text is composed (not constructed) with PyYAML's safe loader, whose nodes carry the
character offsets of each scalar; only those spans change. A price the table adds is inserted
next to its neighbour (a new line at the same indentation in block style, ``, key: value``
in flow style); a price the table drops is removed with its line (or its ``, key: value``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from nexusctl.catalog.prices import PRICE_FIELDS, PriceDiff
from nexusctl.errors import Location, PolicyLoadError

_ORDER = [name for name, _, _, _ in PRICE_FIELDS]


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def apply_price_diffs(text: str, path: str, diffs: Iterable[PriceDiff]) -> str:
    """Return ``text`` with every diff's table value written in place.

    Raises:
        PolicyLoadError: the YAML around a price has a shape this editor does not rewrite
            (anchors shared between deployments, a key sharing its line with another).
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[_Edit] = []
    for diff in diffs:
        pricing = _pricing_node(root, diff.index, diff.location)
        edits.append(_edit_for(text, pricing, diff, path))
    edits.sort(key=lambda e: e.start)
    for before, after in itertools.pairwise(edits):
        if after.start < before.end or (before.start == before.end == after.start == after.end):
            raise PolicyLoadError(
                Location(path),
                "two price edits overlap (are pricing blocks shared through YAML anchors?); "
                "edit the prices by hand",
            )
    for edit in reversed(edits):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _pricing_node(root: yaml.Node | None, index: int, where: Location) -> yaml.MappingNode:
    spec = _child(root, "spec")
    deps = _child(spec[1] if spec else None, "deployments")
    seq = deps[1] if deps else None
    if isinstance(seq, yaml.SequenceNode) and index < len(seq.value):
        pricing = _child(seq.value[index], "pricing")
        if pricing and isinstance(pricing[1], yaml.MappingNode):
            return pricing[1]
    raise PolicyLoadError(where, "cannot find this deployment's pricing mapping to edit")


def _edit_for(text: str, pricing: yaml.MappingNode, diff: PriceDiff, path: str) -> _Edit:
    where = diff.location
    present = _child(pricing, diff.field)
    if present is not None:
        key_node, value_node = present
        if diff.table is None:
            return _removal(text, pricing, key_node, value_node, where)
        if not isinstance(value_node, yaml.ScalarNode):
            raise PolicyLoadError(where, f"'{diff.field}' is not a scalar; edit it by hand")
        return _Edit(value_node.start_mark.index, value_node.end_mark.index, str(diff.table))
    if diff.table is None:  # pragma: no cover - absent on both sides is never a diff
        raise PolicyLoadError(where, "nothing to change")
    return _insertion(text, pricing, diff.field, diff.table, where)


def _previous_value(pricing: yaml.MappingNode, field: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The price key that precedes ``field`` in ``PRICE_FIELDS`` order and is present."""
    for name in reversed(_ORDER[: _ORDER.index(field)]):
        hit = _child(pricing, name)
        if hit is not None:
            return hit
    return None


def _insertion(
    text: str, pricing: yaml.MappingNode, field: str, value: int, where: Location
) -> _Edit:
    anchor = _previous_value(pricing, field)
    if anchor is None:
        raise PolicyLoadError(where, f"cannot place '{field}' (no neighbouring price)")
    key_node, value_node = anchor
    end = value_node.end_mark.index
    if pricing.flow_style:
        return _Edit(end, end, f", {field}: {value}")
    newline = "\r\n" if "\r\n" in text else "\n"
    line_end = text.find("\n", end)
    indent = " " * key_node.start_mark.column
    if line_end == -1:
        return _Edit(len(text), len(text), f"{newline}{indent}{field}: {value}")
    return _Edit(line_end + 1, line_end + 1, f"{indent}{field}: {value}{newline}")


def _removal(
    text: str,
    pricing: yaml.MappingNode,
    key_node: yaml.Node,
    value_node: yaml.Node,
    where: Location,
) -> _Edit:
    start, end = key_node.start_mark.index, value_node.end_mark.index
    if pricing.flow_style:
        previous = _previous_value(pricing, str(getattr(key_node, "value", "")))
        if previous is None:
            raise PolicyLoadError(where, "cannot remove this price; edit it by hand")
        return _Edit(previous[1].end_mark.index, end, "")
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end + 1
    before = text[line_start:start]
    after = text[end:line_end].strip()
    if before.strip() or (after and not after.startswith("#")):
        raise PolicyLoadError(where, "this price shares its line with other keys; edit it by hand")
    return _Edit(line_start, line_end, "")
