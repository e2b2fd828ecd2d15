"""Load any YAML or JSON document into a validated model, locating every error.

Every error names ``file:line:column``: YAML syntax (from the parser's marks), schema (the
pydantic error's path mapped back through the SourceMap, union tags dropped) and file
references (``resolve_inside`` refuses a path that leaves its root before it is opened).
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nexusctl.document.model import API_VERSION
from nexusctl.document.source import PathKey, SourceMap, read_yaml
from nexusctl.errors import Location, PolicyLoadError

M = TypeVar("M", bound=BaseModel)


def load_document(path: Path, model: type[M], display: str | None = None) -> tuple[M, SourceMap]:
    """Read ``path`` as YAML and validate it as ``model``.

    Raises:
        PolicyLoadError: YAML or schema error, located at file:line:column.
    """
    data, source = read_yaml(path, display)
    return validate_document(data, source, model), source


def validate_document(data: Any, source: SourceMap, model: type[M]) -> M:
    """Validate already-read YAML ``data`` as ``model``, locating errors through ``source``.

    ``apiVersion`` and ``kind`` are required (the models default them for programmatic use,
    but a file must say what it is).

    Raises:
        PolicyLoadError: wrong top-level shape, kind or apiVersion, or any schema error.
    """
    if not isinstance(data, dict):
        raise PolicyLoadError(source.locate(()), "expected a mapping at the top of the document")
    if "kind" in model.model_fields:
        expected_kind = model.model_fields["kind"].default
        _require_constant(data, source, "kind", expected_kind)
        _require_constant(data, source, "apiVersion", API_VERSION)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _schema_error(exc, source, model) from None


def resolve_inside(root: Path, base: Path, reference: str, where: Location) -> Path:
    """Resolve ``reference`` (relative to ``base``) and refuse it unless it stays under ``root``.

    Raises:
        PolicyLoadError: absolute path, or one that leaves ``root`` (``..`` or a symlink),
            or a target that is not an existing file.
    """
    if not reference or Path(reference).is_absolute() or reference.startswith(("~", "\\")):
        raise PolicyLoadError(where, f"reference '{reference}' must be a relative path")
    root_real = root.resolve()
    target = (base / reference).resolve()
    if not target.is_relative_to(root_real):
        raise PolicyLoadError(where, f"reference '{reference}' points outside the policy's folder")
    if not target.is_file():
        raise PolicyLoadError(where, f"referenced file '{reference}' does not exist")
    return target


def _require_constant(data: dict[str, Any], source: SourceMap, name: str, expected: Any) -> None:
    if name not in data:
        raise PolicyLoadError(
            source.locate(()), f"missing required field '{name}' (expected {expected!r})"
        )
    if data[name] != expected:
        raise PolicyLoadError(
            source.locate((name,)), f"{name} is {data[name]!r}, expected {expected!r}"
        )


def _schema_error(
    exc: ValidationError, source: SourceMap, model: type[BaseModel]
) -> PolicyLoadError:
    errors = exc.errors()
    # A misspelt field yields "unknown field" and "missing field" together; the unknown one
    # carries the "did you mean", so it is reported first; otherwise document order wins.
    err = min(
        errors,
        key=lambda e: (
            e["type"] != "extra_forbidden",
            _position(source, _data_key(tuple(e["loc"]), source)),
        ),
    )
    loc = tuple(err["loc"])
    key = _data_key(loc, source)
    kind = err["type"]
    message = str(err["msg"]).removeprefix("Value error, ")
    hint = None
    shown = _dotted(key)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = _field_names(model, loc[:-1])
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        message = f"unknown field '{name}'"
        if near:
            message += f" (did you mean '{near[0]}'?)"
        elif known:
            hint = "known fields here: " + ", ".join(sorted(known))
    elif kind == "missing":
        parent = _dotted(key[:-1])
        message = f"{parent + ': ' if parent else ''}missing required field '{loc[-1]}'"
    elif key[-2:] == ("metadata", "version"):
        value = err.get("input")
        message = f"metadata.version must be an integer >= 1 (got {value!r})"
    elif kind == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        key = (*key, str(ctx.get("discriminator", "'kind'")).strip("'"))
        message = f"{_dotted(key)}: {ctx.get('tag')!r} is not one of {ctx.get('expected_tags', '')}"
    elif kind == "union_tag_not_found":
        ctx = err.get("ctx") or {}
        message = f"{shown}: missing {ctx.get('discriminator', 'kind')} (the pricing type)"
    else:
        message = f"{shown or 'document'}: {message}"
    extra = len(errors) - 1
    if extra:
        hint = (hint + "; " if hint else "") + f"{extra} more schema error(s) after this one"
    return PolicyLoadError(source.locate(key), message, hint=hint)


def _position(source: SourceMap, key: PathKey) -> tuple[int, int]:
    where = source.locate(key)
    return (where.line or 0, where.column or 0)


def _dotted(key: PathKey) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _data_key(loc: tuple[Any, ...], source: SourceMap) -> PathKey:
    """Drop pydantic's union-tag segments so the path addresses the YAML data."""
    key: list[str | int] = []
    for index, part in enumerate(loc):
        candidate = (*key, part)
        if candidate in source.marks or isinstance(part, int) or index == len(loc) - 1:
            key.append(part)
    return tuple(key)


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Return the YAML names of the fields expected at pydantic path ``loc`` under ``model``."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    names: list[str] = []
    for m in _models_in(current):
        names += [f.alias or n for n, f in m.model_fields.items()]
    return names


def _step(tp: Any, part: str | int) -> Any:
    models = _models_in(tp)
    for m in models:
        for name, info in m.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
    # A discriminated union's tag segment (e.g. 'per_token') selects one member.
    for m in models:
        tag = m.model_fields.get("kind")
        if tag is not None and tag.default == part:
            return m
    for inner in _unwrap(tp):
        origin = typing.get_origin(inner)
        if origin in (list, tuple) and isinstance(part, int):
            return typing.get_args(inner)[0]
        if origin is dict:
            return typing.get_args(inner)[1]
    return None


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out += _unwrap(arg)
        return out
    return [tp]


def _models_in(tp: Any) -> list[type[BaseModel]]:
    return [t for t in _unwrap(tp) if isinstance(t, type) and issubclass(t, BaseModel)]
