"""Read a pydantic field's annotation as (core type, constraints), for the generated reference."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

NoneType = type(None)


@dataclass
class Constraints:
    """The validation bounds that apply to a value (from annotated-types and pydantic)."""

    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    descriptions: list[str] = field(default_factory=list)


def collect(metadata: list[Any], into: Constraints | None = None) -> Constraints:
    """Fold annotated-types / pydantic metadata objects into one Constraints."""
    out = into or Constraints()
    for item in metadata:
        if isinstance(item, FieldInfo):
            if item.description:
                out.descriptions.append(item.description)
            collect(list(item.metadata), out)
            continue
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(item, name, None)
            if value is not None:
                setattr(out, name, value)
    return out


def unwrap(annotation: Any) -> tuple[Any, Constraints]:
    """Strip ``Annotated`` layers from ``annotation``, returning the core type and its bounds."""
    cons = Constraints()
    while typing.get_origin(annotation) is typing.Annotated:
        core, *meta = typing.get_args(annotation)
        collect(meta, cons)
        annotation = core
    return annotation, cons


def union_members(annotation: Any) -> list[Any] | None:
    """Return the members of a union (``X | Y`` or ``Optional``), or None if not a union."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return list(typing.get_args(annotation))
    return None


def strip_none(annotation: Any) -> tuple[Any, bool]:
    """Return ``annotation`` without ``None`` in its union, and whether None was there."""
    core, _ = unwrap(annotation)
    members = union_members(core)
    if members is None or NoneType not in members:
        return annotation, False
    rest = [m for m in members if m is not NoneType]
    if len(rest) == 1:
        return rest[0], True
    return typing.Union[tuple(rest)], True  # noqa: UP007  (built at run time)


def is_model(tp: Any) -> bool:
    """True for a pydantic model class."""
    return isinstance(tp, type) and issubclass(tp, BaseModel)
