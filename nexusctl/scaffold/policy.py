"""Scaffold a commented RoutingPolicy for a new tenant against an existing catalog.

The policy is written as YAML text with comments (a document model would drop them), from
what the catalog offers: its regions, providers and tiers. Limits are derived, not guessed:
the cost cap and the SLO are set so that every deployment the route may use serves lint's
reference request (``nexusctl.lint.analysis``: 1,000 input and 500 output tokens, load 1)
with room to spare, so the scaffold is lint-clean from the start and the comments say how to
tighten it. Before anything is written the text is validated and linted from a temporary file
beside the target; the target is then created with ``os.link``, which never replaces an
existing file and makes the policy appear whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nexusctl.document import (
    ROOT_MARKER,
    RepositoryRoot,
    find_root,
    read_yaml,
    validate_document,
)
from nexusctl.errors import ConflictError, EnvironmentError_, InputError, UsageError
from nexusctl.lint import Finding, lint_paths
from nexusctl.lint.analysis import (
    REFERENCE_INPUT_TOKENS,
    REFERENCE_OUTPUT_TOKENS,
    best_latency_us,
    cost_pusd,
)
from nexusctl.policy.catalog import Deployment
from nexusctl.policy.loader import LoadedCatalog, load_catalog
from nexusctl.policy.routing import RoutingPolicy
from nexusctl.policy.vocabulary import TIER_ORDER, Tier

#: The complexity score from which a scaffolded route asks for its larger tier.
COMPLEXITY_STEP = 0.7
#: Headroom over the dearest (slowest) usable deployment at the reference request.
HEADROOM = 1.5


@dataclass(frozen=True)
class ScaffoldOptions:
    """What ``policy init`` was asked for."""

    name: str
    tenant: str
    app: str
    residency_class: str
    owner: str | None = None
    allow_regions: tuple[str, ...] = ()
    allow_providers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scaffold:
    """A written policy and what lint said about it (nothing, unless the catalog has faults)."""

    path: Path
    text: str
    findings: tuple[Finding, ...]


def scaffold_policy(
    target: Path,
    catalog_path: Path,
    options: ScaffoldOptions,
    *,
    today: dt.date,
    root: Path | None = None,
) -> Scaffold:
    """Write a commented policy for ``options`` at ``target``, drawing on ``catalog_path``.

    Raises:
        ConflictError: ``target`` exists (it is never overwritten).
        UsageError: an allow-list names a region or provider the catalog does not have, or
            leaves no deployment.
        InputError: the target's folder is missing; the catalog is outside the root.
        PolicyLoadError: the catalog does not load.
        EnvironmentError_: the file could not be written.
    """
    _check_identifiers(options)
    if os.path.lexists(target):
        raise ConflictError(
            f"{target}: already exists; policy init never overwrites a file",
            hint="choose another path, or remove the file first",
        )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder for the new policy")
    repository = find_root(folder, root)
    reference = _reference(catalog_path, folder, repository)
    catalog = load_catalog(catalog_path, root=repository)
    text = render_policy(catalog, reference, options)
    return Scaffold(target, text, _write_checked(target, folder, text, today, root))


def render_policy(catalog: LoadedCatalog, reference: str, options: ScaffoldOptions) -> str:
    """Return the policy text (YAML with comments) for ``options`` over ``catalog``.

    Raises:
        UsageError: an allow-list names what the catalog lacks, or leaves no deployment.
    """
    deployments = catalog.catalog.spec.deployments
    regions = sorted({d.region for d in deployments})
    providers = sorted({d.provider for d in deployments})
    _check_known("region", options.allow_regions, regions)
    _check_known("provider", options.allow_providers, providers)
    pool = [
        d
        for d in deployments
        if (not options.allow_regions or d.region in options.allow_regions)
        and (not options.allow_providers or d.provider in options.allow_providers)
        and d.pricing is not None
    ]
    if not pool:
        raise UsageError("no priced deployment of the catalog is left by the allow-lists")
    tiers = [t for t in TIER_ORDER if any(d.tier == t for d in pool)]
    smaller: list[Tier] = [t for t in tiers if t != "frontier"]
    route_tiers = smaller[:2] or tiers[:1]
    lines = _header(catalog, options, regions, providers)
    lines += _spec_top(reference, options, pool)
    lines += _route(options, [d for d in pool if d.tier in route_tiers], route_tiers)
    lines += _default(options, [d for d in pool if d.tier == route_tiers[0]], route_tiers[0])
    lines += _escalation(options)
    return "\n".join(lines) + "\n"


def _check_identifiers(options: ScaffoldOptions) -> None:
    from pydantic import TypeAdapter, ValidationError

    from nexusctl.document import Identifier

    adapter: TypeAdapter[str] = TypeAdapter(Identifier)
    for flag, value in (
        ("--name", options.name),
        ("--tenant", options.tenant),
        ("--app", options.app),
        ("--residency-class", options.residency_class),
        *(("--allow-regions", r) for r in options.allow_regions),
        *(("--allow-providers", p) for p in options.allow_providers),
    ):
        try:
            adapter.validate_python(value)
        except ValidationError:
            raise UsageError(
                f"{flag} {value!r} is not an identifier (lowercase letters, digits, '.', '_' "
                "or '-', 1-63 characters, starting and ending with a letter or digit)"
            ) from None


def _check_known(what: str, wanted: Sequence[str], known: list[str]) -> None:
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UsageError(
            f"the catalog has no {what} {', '.join(map(repr, unknown))}; "
            f"its {what}s: {', '.join(known)}"
        )


def _header(
    catalog: LoadedCatalog, options: ScaffoldOptions, regions: list[str], providers: list[str]
) -> list[str]:
    meta = catalog.catalog.metadata
    counts = {t: sum(d.tier == t for d in catalog.catalog.spec.deployments) for t in TIER_ORDER}
    return [
        f"# RoutingPolicy for tenant {options.tenant}, app {options.app}: scaffolded by",
        f"# `nexusctl policy init` from catalog {meta.name} v{meta.version}.",
        "# Fields: docs/policy-reference.md. Check it with `nexusctl policy lint`, see where a",
        "# request goes with `nexusctl policy explain`, pin outcomes with `nexusctl policy test`.",
        f"# The catalog offers regions {', '.join(regions)};",
        f"# providers {', '.join(providers)};",
        "# tiers "
        + ", ".join(f"{t} ({counts[t]} deployment(s))" for t in TIER_ORDER if counts[t])
        + ".",
        "apiVersion: nexuscore.io/v1",
        "kind: RoutingPolicy",
        "metadata:",
        f"  name: {options.name}",
        "  version: 1  # raise it with every change (lint --previous checks it grows)",
        f"  owner: {_scalar(options.owner or options.tenant + '-platform')}",
        f"  description: Routing for tenant {options.tenant}, app {options.app}.",
    ]


def _spec_top(reference: str, options: ScaffoldOptions, pool: list[Deployment]) -> list[str]:
    regions = list(options.allow_regions) or sorted({d.region for d in pool})
    lines = [
        "spec:",
        "  # The pool, relative to this file; it may sit in another folder inside the",
        f"  # repository root (the folder holding {ROOT_MARKER}), never outside it.",
        f"  catalog: {_scalar(reference)}",
        "  tenants:",
        f"    - id: {options.tenant}",
        "      # monthlyBudget: 1000000000  # micro-USD a month ($1,000); reports compare spend",
        "  # Residency is hard: a request of this class is only served from these regions.",
        "  residencyClasses:",
        f"    - id: {options.residency_class}",
        f"      regions: [{', '.join(regions)}]",
    ]
    if not options.allow_regions and not options.allow_providers:
        return [*lines, "  guardrails: []  # e.g. an allow-list: see `policy init --allow-regions`"]
    lines += [
        "  # An allow-list: whatever class a caller sends, only what is listed stays in; a",
        "  # region or provider added to the catalog later stays out until listed here.",
        "  guardrails:",
        f"    - id: {options.tenant}-allow-list",
        f"      description: {options.tenant} requests stay on the listed regions and providers.",
        "      when:",
        f"        tenants: [{options.tenant}]",
    ]
    if options.allow_regions:
        lines.append(f"      allowRegions: [{', '.join(options.allow_regions)}]")
    if options.allow_providers:
        lines.append(f"      allowProviders: [{', '.join(options.allow_providers)}]")
    return lines


def _limits(deployments: list[Deployment]) -> tuple[int, int]:
    """(sloMs, maxCost micro-USD) that every deployment meets at the reference request."""
    latency_us = max(
        best_latency_us(d, REFERENCE_INPUT_TOKENS, REFERENCE_OUTPUT_TOKENS) for d in deployments
    )
    cost = max(
        cost_pusd(d, REFERENCE_INPUT_TOKENS, REFERENCE_OUTPUT_TOKENS) or 0 for d in deployments
    )
    slo_ms = _round_up(math.ceil(latency_us * HEADROOM / 1000))
    max_cost = _round_up(max(1, math.ceil(cost * HEADROOM / 1_000_000)))
    return slo_ms, max_cost


def _round_up(value: int) -> int:
    """Round up to two significant digits, so the figure reads as chosen, not computed."""
    step = int(10 ** max(0, len(str(value)) - 2))
    return -(-value // step) * step


def _route(options: ScaffoldOptions, pool: list[Deployment], tiers: list[Tier]) -> list[str]:
    slo_ms, max_cost = _limits(pool)
    lines = [
        "  # Ordered; the first route whose match fits the request wins.",
        "  routes:",
        f"    - id: {options.app}",
        f"      description: {options.app} requests of tenant {options.tenant}.",
        "      match:",
        f"        tenants: [{options.tenant}]",
        f"        apps: [{options.app}]",
        "      # The router takes the smallest tier with an eligible deployment.",
        f"      tiers: [{', '.join(tiers)}]",
        "      # sloMs and maxCost (micro-USD a request) fit every deployment of these tiers",
        f"      # at lint's reference request ({REFERENCE_INPUT_TOKENS} input, "
        f"{REFERENCE_OUTPUT_TOKENS} output tokens)",
        f"      # with {int((HEADROOM - 1) * 100)}% to spare: tighten them to your SLO and budget.",
        f"      sloMs: {slo_ms}",
        f"      maxCost: {max_cost}",
    ]
    if len(tiers) > 1:
        lines += [
            "      # Hard requests (the caller's complexity score) need a larger model.",
            "      complexityThresholds:",
            f"        - atLeast: {COMPLEXITY_STEP}",
            f"          minTier: {tiers[1]}",
        ]
    return lines


def _default(options: ScaffoldOptions, pool: list[Deployment], tier: Tier) -> list[str]:
    slo_ms, max_cost = _limits(pool)
    return [
        "  # Every request no route matches; never the frontier tier.",
        "  default:",
        "    id: default",
        f"    tiers: [{tier}]",
        f"    sloMs: {slo_ms}",
        f"    maxCost: {max_cost}",
    ]


def _escalation(options: ScaffoldOptions) -> list[str]:
    return [
        "  # When nothing may serve a request, it goes to people, never across a boundary.",
        "  escalation:",
        "    - id: nothing-eligible",
        "      reason: No deployment satisfies residency, guardrails and the cost cap.",
        "      onNoEligible: true",
        f"      target: {options.tenant}-review",
    ]


def _scalar(value: str) -> str:
    """A YAML plain scalar when safe, else a double-quoted one (JSON string rules)."""
    import json

    plain = (
        value
        and (value[0].isalnum() or value[0] in "./")
        and all(c.isalnum() or c in "-_./@ " for c in value)
        and not value.endswith(" ")
    )
    return value if plain else json.dumps(value)


def _reference(catalog: Path, folder: Path, root: RepositoryRoot) -> str:
    """The catalog's path relative to the policy's folder (both real, inside ``root``)."""
    real = Path(os.path.realpath(catalog))
    if not real.is_relative_to(root.path):
        raise InputError(
            f"{catalog}: outside {root.describe()}; the new policy could not load it",
            hint=f"put an empty {ROOT_MARKER} file in a folder above both, or pass --root DIR",
        )
    return Path(os.path.relpath(real, os.path.realpath(folder))).as_posix()


def _write_checked(
    target: Path, folder: Path, text: str, today: dt.date, root: Path | None
) -> tuple[Finding, ...]:
    """Validate and lint ``text`` from a temporary file beside ``target``, then link it in."""
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".yaml", dir=folder)
    except OSError as exc:
        raise EnvironmentError_(f"cannot write in {folder}: {exc.strerror}") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)
        data, source = read_yaml(temp, str(target))
        validate_document(data, source, RoutingPolicy)
        findings = lint_paths([temp], today=today, root=root).findings
        try:
            os.link(temp, target)
        except FileExistsError:
            raise ConflictError(
                f"{target}: appeared while the policy was being written; left untouched"
            ) from None
        except OSError as exc:
            raise EnvironmentError_(f"cannot create {target}: {exc.strerror}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return tuple(findings)
