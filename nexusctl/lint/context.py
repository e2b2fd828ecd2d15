"""What every rule sees: a loaded policy (or catalog) and a way to locate any value in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nexusctl.document.source import PathKey, SourceMap
from nexusctl.policy.loader import LoadedCatalog, LoadedPolicy

Where = tuple[str, int | None, int | None]


def where(source: SourceMap, key: PathKey) -> Where:
    """The (path, line, column) of ``key`` in ``source`` (nearest ancestor when absent)."""
    found = source.locate(key)
    return (found.path, found.line, found.column)


@dataclass(frozen=True)
class PolicyContext:
    """A loaded policy and its catalog, with locators for both files.

    ``price_table`` is the catalog's price table (None when it has none or it failed to load).
    """

    loaded: LoadedPolicy
    price_table: dict[str, Any] | None = None

    @property
    def policy_path(self) -> str:
        """The policy file as displayed in findings."""
        return self.loaded.source.path

    def at(self, *key: str | int) -> Where:
        """Locate ``key`` in the policy file."""
        return where(self.loaded.source, key)

    def in_catalog(self, *key: str | int) -> Where:
        """Locate ``key`` in the catalog file."""
        return where(self.loaded.catalog.source, key)


@dataclass(frozen=True)
class CatalogContext:
    """A loaded catalog and its price table (None when absent or unreadable)."""

    loaded: LoadedCatalog
    price_table: dict[str, Any] | None = None

    def at(self, *key: str | int) -> Where:
        """Locate ``key`` in the catalog file."""
        return where(self.loaded.source, key)
