"""Run lint over files and folders: discover documents, load them, run the rules, suppress.

A folder means every ``*.yaml``/``*.yml`` under it (hidden entries skipped): RoutingPolicy
documents are linted, ModelCatalog documents are validated and their rules run, other kinds
are skipped with a note. A file named explicitly must be one of those two kinds. Load errors
become NXL000 findings (the run exits 3); finding no policy at all is an InputError, never a
silent pass.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl.document import SourceMap, load_document, read_yaml
from nexusctl.errors import InputError, PolicyLoadError
from nexusctl.lint.context import CatalogContext, PolicyContext
from nexusctl.lint.findings import Finding, LintReport, finding
from nexusctl.lint.rules_catalog import check_catalog
from nexusctl.lint.rules_reach import (
    check_cost_caps,
    check_dead_floors,
    check_empty_routes,
    check_guardrail_fallbacks,
    check_residency_fallbacks,
    check_slos,
)
from nexusctl.lint.rules_structure import (
    check_catch_all_frontier,
    check_duplicate_ids,
    check_fallback_cycles,
    check_references,
    check_region_deny_lists,
    check_shadowed_routes,
)
from nexusctl.lint.rules_text import check_policy_text
from nexusctl.lint.suppressions import apply_suppressions
from nexusctl.policy.loader import (
    LoadedCatalog,
    catalog_from_document,
    load_price_table,
    policy_from_document,
)
from nexusctl.policy.routing import RoutingPolicy

YAML_SUFFIXES = (".yaml", ".yml")

PolicyRule = Callable[[PolicyContext], Iterable[Finding]]

#: Policy rules in the order they run (output is sorted by location afterwards).
POLICY_RULES: tuple[PolicyRule, ...] = (
    check_catch_all_frontier,
    check_shadowed_routes,
    check_references,
    check_fallback_cycles,
    check_residency_fallbacks,
    check_guardrail_fallbacks,
    check_cost_caps,
    check_slos,
    check_empty_routes,
    check_dead_floors,
    check_duplicate_ids,
    check_region_deny_lists,
    check_policy_text,
)


@dataclass(frozen=True)
class _Candidate:
    path: Path
    display: str
    explicit: bool


def lint_paths(
    paths: Sequence[Path],
    *,
    today: dt.date,
    previous: Path | None = None,
    root: Path | None = None,
) -> LintReport:
    """Lint every policy (and catalog) found under ``paths``.

    ``today`` decides which suppressions have expired; ``previous`` is an earlier version of
    a policy: a linted policy of the same name must carry a greater ``metadata.version``.
    ``root`` is an explicit repository root (``--root``); None finds it per file.

    Raises:
        InputError: a path does not exist, no policy was found, or ``previous`` names no
            linted policy.
        PolicyLoadError: ``previous`` itself does not load.
    """
    candidates = list(discover(paths))
    notes: list[str] = []
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    policy_docs: list[tuple[_Candidate, Any, SourceMap]] = []
    catalog_docs: list[tuple[_Candidate, Any, SourceMap]] = []
    for candidate in candidates:
        try:
            data, source = read_yaml(candidate.path, candidate.display)
        except PolicyLoadError as exc:
            findings.append(load_finding(exc))
            continue
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind == "RoutingPolicy":
            policy_docs.append((candidate, data, source))
        elif kind == "ModelCatalog":
            catalog_docs.append((candidate, data, source))
        elif candidate.explicit:
            findings.append(_unknown_kind(data, source))
        else:
            notes.append(f"{candidate.display}: kind {kind!r} is not linted; skipped")
    explicit_catalog = any(c.explicit for c, _, _ in catalog_docs)
    if not policy_docs and not explicit_catalog and not findings:
        shown = ", ".join(p.as_posix() for p in paths)
        raise InputError(
            f"no RoutingPolicy found under {shown}",
            hint="lint looks for *.yaml/*.yml files whose kind is RoutingPolicy",
        )

    catalogs: dict[Path, LoadedCatalog] = {}
    contexts: list[PolicyContext] = []
    for candidate, data, source in policy_docs:
        try:
            loaded = policy_from_document(
                data, source, candidate.path, catalogs=catalogs, root=root
            )
        except PolicyLoadError as exc:
            findings.append(load_finding(exc))
            continue
        contexts.append(PolicyContext(loaded))
    for candidate, data, source in catalog_docs:
        if candidate.path.resolve() in catalogs:
            continue
        try:
            catalogs[candidate.path.resolve()] = catalog_from_document(
                data, source, candidate.path, root
            )
        except PolicyLoadError as exc:
            findings.append(load_finding(exc))

    tables: dict[Path, dict[str, Any] | None] = {}
    for loaded_catalog in catalogs.values():
        table, error = _price_table(loaded_catalog)
        tables[loaded_catalog.path.resolve()] = table
        if error is not None:
            findings.append(error)
            continue
        findings += check_catalog(CatalogContext(loaded_catalog, table))

    previous_policy = _load_previous(previous, contexts) if previous else None
    for ctx in contexts:
        table = tables.get(ctx.loaded.catalog.path.resolve())
        ctx = PolicyContext(ctx.loaded, table)
        raw: list[Finding] = []
        for rule in POLICY_RULES:
            raw += rule(ctx)
        if previous_policy is not None:
            raw += _check_version(ctx, previous_policy)
        active, waived = apply_suppressions(ctx, raw, today)
        findings += active
        suppressed += waived

    return LintReport(
        findings=_unique(findings),
        suppressed=_unique(suppressed),
        policies=tuple(ctx.policy_path for ctx in contexts),
        catalogs=tuple(sorted(c.source.path for c in catalogs.values())),
        notes=tuple(notes),
    )


def discover(paths: Sequence[Path]) -> Iterator[_Candidate]:
    """Yield the YAML files named by ``paths`` (folders walked in sorted order, once each).

    Raises:
        InputError: a path does not exist.
    """
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise InputError(f"{path.as_posix()}: no such file or directory")
        # Anything but a folder is read as a file, so a FIFO or device is refused by the
        # bounded reader (NXL000) instead of being walked as an empty folder.
        found = list(_walk(path)) if path.is_dir() else [_Candidate(path, path.as_posix(), True)]
        for candidate in found:
            real = candidate.path.resolve()
            if real not in seen:
                seen.add(real)
                yield candidate


def _walk(root: Path) -> Iterator[_Candidate]:
    root_real = root.resolve()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.endswith(YAML_SUFFIXES):
                continue
            path = Path(folder) / name
            if not path.resolve().is_relative_to(root_real):
                continue
            yield _Candidate(path, path.as_posix(), False)


def load_finding(exc: PolicyLoadError) -> Finding:
    """Turn a load error into an NXL000 finding at its location."""
    where = exc.location
    return finding("NXL000", exc.detail, (where.path, where.line, where.column))


def _unknown_kind(data: Any, source: SourceMap) -> Finding:
    expected = "'RoutingPolicy' or 'ModelCatalog'"
    if not isinstance(data, dict):
        message = "expected a mapping at the top of the document"
    elif "kind" not in data:
        message = f"missing required field 'kind' (expected {expected})"
    else:
        message = f"kind is {data['kind']!r}, expected {expected}"
    return finding("NXL000", message, (source.path, *_line_col(source, ("kind",))))


def _line_col(source: SourceMap, key: tuple[str | int, ...]) -> tuple[int | None, int | None]:
    found = source.locate(key)
    return found.line, found.column


def _price_table(loaded: LoadedCatalog) -> tuple[dict[str, Any] | None, Finding | None]:
    if loaded.price_table_path is None:
        return None, None
    try:
        return load_price_table(loaded.price_table_path), None
    except PolicyLoadError as exc:
        line, column = _line_col(loaded.source, ("spec", "priceTable", "path"))
        return None, finding("NXL000", exc.detail, (loaded.source.path, line, column))


def _load_previous(previous: Path, contexts: list[PolicyContext]) -> RoutingPolicy:
    policy, _ = load_document(previous, RoutingPolicy, previous.as_posix())
    names = {ctx.loaded.policy.metadata.name for ctx in contexts}
    if policy.metadata.name not in names:
        raise InputError(
            f"--previous policy '{policy.metadata.name}' matches no linted policy",
            hint="linted policies: " + (", ".join(sorted(names)) or "none"),
        )
    return policy


def _check_version(ctx: PolicyContext, previous: RoutingPolicy) -> list[Finding]:
    meta = ctx.loaded.policy.metadata
    if meta.name != previous.metadata.name or meta.version > previous.metadata.version:
        return []
    return [
        finding(
            "NXL013",
            f"metadata.version {meta.version} is not greater than the previous version "
            f"{previous.metadata.version} of policy '{meta.name}'",
            ctx.at("metadata", "version"),
            meta.name,
        )
    ]


def _unique(findings: list[Finding]) -> tuple[Finding, ...]:
    out: dict[tuple[Any, ...], Finding] = {}
    for item in findings:
        out.setdefault((*item.sort_key(), item.suppressed), item)
    return tuple(sorted(out.values(), key=Finding.sort_key))
