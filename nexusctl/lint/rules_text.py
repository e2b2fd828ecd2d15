"""Text rules: control characters in policy and catalog text (NXL016).

The character set is ``nexusctl.document.text.CONTROL_CHARACTERS`` (terminal escapes and
bidirectional overrides); every renderer escapes the same set, so what lint flags is what a
terminal would otherwise have obeyed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic import BaseModel

from nexusctl.document.text import find_controls
from nexusctl.lint.context import CatalogContext, PolicyContext, Where
from nexusctl.lint.findings import Finding, finding


def check_policy_text(ctx: PolicyContext) -> Iterator[Finding]:
    """NXL016: a string of the policy holds a control character."""
    yield from _controls(ctx.loaded.policy, "policy", lambda key: ctx.at(*key))


def check_catalog_text(ctx: CatalogContext) -> Iterator[Finding]:
    """NXL016: a string of the catalog holds a control character."""
    yield from _controls(ctx.loaded.catalog, "catalog", lambda key: ctx.at(*key))


def _controls(
    document: BaseModel, kind: str, at: Callable[[tuple[str | int, ...]], Where]
) -> Iterator[Finding]:
    # The values as written (exclude_unset), under their YAML names (by_alias), so each path
    # is a key of the document's source map.
    data = document.model_dump(mode="json", by_alias=True, exclude_unset=True)
    for key, character in find_controls(data):
        shown = ".".join(str(part) for part in key) or "(document)"
        yield finding(
            "NXL016",
            f"{kind} text at {shown} holds the control character {character}; "
            "a terminal showing it would obey it",
            at(key),
        )
