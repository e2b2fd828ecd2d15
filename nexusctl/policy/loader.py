"""Load RoutingPolicy and ModelCatalog files into validated models, with exact error locations.

Every error names ``file:line:column``: YAML syntax (from the parser's marks), schema (the
pydantic error's path mapped back through the SourceMap) and file references (a catalog or
price table outside the policy's folder is refused before it is opened).
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nexusctl.errors import Location, PolicyLoadError
from nexusctl.policy._yaml import PathKey, SourceMap, read_yaml
from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.routing import RoutingPolicy

MAX_PRICE_TABLE_BYTES = 64 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedCatalog:
    """A validated catalog with where it came from."""

    catalog: ModelCatalog
    path: Path
    source: SourceMap
    price_table_path: Path | None


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy, its catalog, and the source maps that locate every value."""

    policy: RoutingPolicy
    path: Path
    source: SourceMap
    catalog: LoadedCatalog


def load_document(path: Path, model: type[M], display: str | None = None) -> tuple[M, SourceMap]:
    """Read ``path`` as YAML and validate it as ``model``.

    Raises:
        PolicyLoadError: YAML or schema error, located at file:line:column.
    """
    data, source = read_yaml(path, display)
    if not isinstance(data, dict):
        raise PolicyLoadError(source.locate(()), "expected a mapping at the top of the document")
    expected_kind = model.model_fields["kind"].default if "kind" in model.model_fields else None
    if expected_kind and data.get("kind") not in (None, expected_kind):
        raise PolicyLoadError(
            source.locate(("kind",)), f"kind is {data.get('kind')!r}, expected {expected_kind!r}"
        )
    try:
        return model.model_validate(data), source
    except ValidationError as exc:
        raise _schema_error(exc, source, model) from None


def load_catalog(path: Path, root: Path | None = None, display: str | None = None) -> LoadedCatalog:
    """Load a ModelCatalog; its price table must sit inside ``root`` (default: its folder).

    Raises:
        PolicyLoadError: as ``load_document``, or a price table path that leaves ``root``.
    """
    catalog, source = load_document(path, ModelCatalog, display)
    table = catalog.spec.price_table
    table_path = None
    if table is not None:
        table_path = resolve_inside(
            root or path.parent,
            path.parent,
            table.path,
            source.locate(("spec", "priceTable", "path")),
        )
    return LoadedCatalog(catalog, path, source, table_path)


def load_policy(path: Path, display: str | None = None) -> LoadedPolicy:
    """Load a RoutingPolicy and the catalog it names (which must sit inside its folder).

    Raises:
        PolicyLoadError: YAML, schema or reference errors in either file.
    """
    shown = display or str(path)
    policy, source = load_document(path, RoutingPolicy, shown)
    root = path.parent
    catalog_path = resolve_inside(
        root, root, policy.spec.catalog, source.locate(("spec", "catalog"))
    )
    catalog_display = str(Path(shown).parent / policy.spec.catalog)
    catalog = load_catalog(catalog_path, root=root, display=catalog_display)
    return LoadedPolicy(policy, path, source, catalog)


def resolve_inside(root: Path, base: Path, reference: str, where: Location) -> Path:
    """Resolve ``reference`` (relative to ``base``) and refuse it unless it stays under ``root``.

    Raises:
        PolicyLoadError: absolute path, or one that leaves ``root`` (``..`` or a symlink).
    """
    if Path(reference).is_absolute() or reference.startswith("~"):
        raise PolicyLoadError(where, f"reference '{reference}' must be a relative path")
    root_real = root.resolve()
    target = (base / reference).resolve()
    if not target.is_relative_to(root_real):
        raise PolicyLoadError(
            where, f"reference '{reference}' points outside the policy folder {root}"
        )
    if not target.is_file():
        raise PolicyLoadError(where, f"referenced file '{reference}' does not exist")
    return target


def load_price_table(path: Path) -> dict[str, Any]:
    """Read a LiteLLM-format price table (a JSON object of model key -> entry).

    Raises:
        PolicyLoadError: unreadable, too large, not JSON, or not an object.
    """
    where = Location(str(path))
    try:
        if path.stat().st_size > MAX_PRICE_TABLE_BYTES:
            raise PolicyLoadError(where, "price table is larger than the 64 MiB cap")
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise PolicyLoadError(where, "price table not found") from None
    except UnicodeDecodeError:
        raise PolicyLoadError(where, "price table is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PolicyLoadError(
            Location(str(path), exc.lineno, exc.colno), f"price table is not JSON: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise PolicyLoadError(where, "price table must be a JSON object keyed by model")
    return data


def _schema_error(
    exc: ValidationError, source: SourceMap, model: type[BaseModel]
) -> PolicyLoadError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    key = _data_key(loc, source)
    message = err["msg"]
    hint = None
    if err["type"] == "extra_forbidden":
        name = str(loc[-1])
        known = _field_names(model, key[:-1])
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        message = f"unknown field '{name}'"
        if near:
            message += f" (did you mean '{near[0]}'?)"
        elif known:
            hint = "known fields here: " + ", ".join(sorted(known))
    elif err["type"] == "missing":
        message = f"missing required field '{loc[-1]}'"
    else:
        field = ".".join(str(p) for p in key) or "document"
        message = f"{field}: {message}"
    extra = len(exc.errors()) - 1
    if extra:
        hint = (hint + "; " if hint else "") + f"{extra} more schema error(s) after this one"
    return PolicyLoadError(source.locate(key), message, hint=hint)


def _data_key(loc: tuple[Any, ...], source: SourceMap) -> PathKey:
    """Drop pydantic's union-tag segments so the path addresses the YAML data."""
    key: list[str | int] = []
    for part in loc:
        candidate = (*key, part)
        if candidate in source.marks or isinstance(part, int) or part == loc[-1]:
            key.append(part)
    return tuple(key)


def _field_names(model: type[BaseModel], key: PathKey) -> list[str]:
    """Return the YAML names of the fields expected at ``key`` under ``model`` (best effort)."""
    current: Any = model
    for part in key:
        current = _step(current, part)
        if current is None:
            return []
    models = [m for m in _models_in(current)]
    names: list[str] = []
    for m in models:
        names += [f.alias or n for n, f in m.model_fields.items()]
    return names


def _step(tp: Any, part: str | int) -> Any:
    for m in _models_in(tp):
        for name, info in m.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
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
