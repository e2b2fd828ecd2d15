"""Load RoutingPolicy and ModelCatalog files into validated models, with exact error locations.

Every error names ``file:line:column``: YAML syntax (from the parser's marks), schema (the
pydantic error's path mapped back through the SourceMap, union tags dropped) and file
references (a catalog or price table outside the repository root is refused before it is
opened; ``nexusctl.document.root`` says how the root is found: ``--root``, the nearest
``.nexusctl-root`` marker, else the policy's own folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl.document import (
    RepositoryRoot,
    SourceMap,
    find_root,
    read_yaml,
    resolve_reference,
    validate_document,
)
from nexusctl.document.strict_json import JsonLimitError, loads_strict
from nexusctl.errors import InputError, Location, PolicyLoadError
from nexusctl.files import read_bounded
from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.routing import RoutingPolicy

MAX_PRICE_TABLE_BYTES = 64 * 1024 * 1024


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
    #: The folder every reference was confined to (None: built by hand, not loaded).
    root: RepositoryRoot | None = None


def load_catalog(
    path: Path, root: RepositoryRoot | Path | None = None, display: str | None = None
) -> LoadedCatalog:
    """Load a ModelCatalog; its price table must sit inside ``root``.

    ``root`` None finds the repository root from the catalog's folder (``find_root``); a
    plain Path is taken as an explicit root.

    Raises:
        InputError: an explicit ``root`` that is not a folder above the catalog.
        PolicyLoadError: as ``load_document``, or a price table path that leaves ``root``.
    """
    data, source = read_yaml(path, display)
    return catalog_from_document(data, source, path, root)


def catalog_from_document(
    data: Any, source: SourceMap, path: Path, root: RepositoryRoot | Path | None = None
) -> LoadedCatalog:
    """Validate an already-read catalog document and resolve its price table path.

    Raises:
        InputError: an explicit ``root`` that is not a folder above the catalog.
        PolicyLoadError: schema error, or a price table outside ``root`` or missing.
    """
    catalog = validate_document(data, source, ModelCatalog)
    table = catalog.spec.price_table
    table_path = None
    if table is not None:
        table_path = resolve_reference(
            _root(path, root),
            path.parent,
            table.path,
            source.locate(("spec", "priceTable", "path")),
        )
    return LoadedCatalog(catalog, path, source, table_path)


def _root(path: Path, root: RepositoryRoot | Path | None) -> RepositoryRoot:
    if isinstance(root, RepositoryRoot):
        return root
    return find_root(path.parent, root)


def load_policy(
    path: Path,
    display: str | None = None,
    *,
    catalogs: dict[Path, LoadedCatalog] | None = None,
    root: Path | None = None,
) -> LoadedPolicy:
    """Load a RoutingPolicy and the catalog it names (which must sit inside the root).

    ``catalogs`` is an optional cache keyed by resolved catalog path, so linting several
    policies that share one catalog reads it once. ``root`` is an explicit repository root
    (``--root``); None finds it from the policy's folder (``nexusctl.document.find_root``).

    Raises:
        InputError: an explicit ``root`` that is not a folder above the policy.
        PolicyLoadError: YAML, schema or reference errors in either file.
    """
    data, source = read_yaml(path, display)
    return policy_from_document(data, source, path, catalogs=catalogs, root=root)


def policy_from_document(
    data: Any,
    source: SourceMap,
    path: Path,
    *,
    catalogs: dict[Path, LoadedCatalog] | None = None,
    root: Path | None = None,
) -> LoadedPolicy:
    """Validate an already-read policy document and load the catalog it references.

    Raises:
        InputError: an explicit ``root`` that is not a folder above the policy.
        PolicyLoadError: schema error, a catalog reference that leaves the repository root,
            passes through a symlink or does not exist, or any load error in the catalog.
    """
    policy = validate_document(data, source, RoutingPolicy)
    repository = find_root(path.parent, root)
    catalog_path = resolve_reference(
        repository, path.parent, policy.spec.catalog, source.locate(("spec", "catalog"))
    )
    cached = catalogs.get(catalog_path) if catalogs is not None else None
    if cached is None:
        catalog_display = os.path.normpath(Path(source.path).parent / policy.spec.catalog)
        cached = load_catalog(
            catalog_path, root=repository, display=Path(catalog_display).as_posix()
        )
        if catalogs is not None:
            catalogs[catalog_path] = cached
    return LoadedPolicy(policy, path, source, cached, repository)


def load_price_table(path: Path) -> dict[str, Any]:
    """Read a LiteLLM-format price table (a JSON object of model key -> entry).

    The file is read bounded (a regular file, at most 64 MiB) and parsed strictly (nesting,
    integer size, finite numbers, unique keys): a hostile table is refused, never a crash.

    Raises:
        PolicyLoadError: unreadable, not a regular file, too large, not JSON within those
            bounds, or not an object.
    """
    where = Location(str(path))
    try:
        raw = read_bounded(path, MAX_PRICE_TABLE_BYTES, what="price table")
    except InputError as exc:
        raise PolicyLoadError(where, _without_path(str(exc), path)) from None
    try:
        data = loads_strict(raw)
    except JsonLimitError as exc:
        if exc.line is None:
            raise PolicyLoadError(where, f"price table refused: {exc}") from None
        at = Location(str(path), exc.line, exc.column)
        raise PolicyLoadError(at, f"price table is {exc}") from None
    if not isinstance(data, dict):
        raise PolicyLoadError(where, "price table must be a JSON object keyed by model")
    return data


def _without_path(message: str, path: Path) -> str:
    """``files`` messages start with the path; a located error shows it already."""
    return message.removeprefix(f"{path}: ")
