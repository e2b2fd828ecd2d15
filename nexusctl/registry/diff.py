"""What differs between two environments' live sets, as a semantic policy diff.

For every policy name live in either environment: its version and bundle digest on each
side; when the digests differ, both stored bundles' policies are loaded (each checked against
its manifest first) and compared model by model — routes (and their order, since the first
match wins), the default route, guardrails, tenants, residency classes, fallback chains,
escalation rules, limits, suppressions and metadata — field by field, under the YAML names
(camelCase) a policy author reads. A changed catalog file is reported by its digest.

Read-only: the live sets come from the record log (as ``registry status``), not from
``live/<env>.json``; run ``registry verify`` to prove the log itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from nexusctl.document import FrozenModel
from nexusctl.registry._context import Registry
from nexusctl.registry._state import LiveEntry

if TYPE_CHECKING:
    from nexusctl.bundle import BundleTree
    from nexusctl.policy import RoutingPolicy

#: Sections of a policy spec compared item by item (lists keyed by id), in report order.
KEYED_SECTIONS = (
    "routes",
    "guardrails",
    "tenants",
    "residencyClasses",
    "fallbackChains",
    "escalation",
    "suppressions",
)

ChangeKind = Literal["added", "removed", "changed"]
DiffStatus = Literal["same", "differs", "only-in-a", "only-in-b"]


class PolicyChange(FrozenModel):
    """One semantic difference between the two sides' policies (a → b)."""

    section: str = Field(
        description="routes, default, guardrails, tenants, residencyClasses, fallbackChains, "
        "escalation, suppressions, limits, metadata, routeOrder or catalog."
    )
    item: str | None = Field(default=None, description="The id of the item in the section.")
    kind: ChangeKind
    field: str | None = Field(
        default=None, description="Dotted path of the field inside the item (changed only)."
    )
    before: Any = Field(default=None, description="Value on side a (JSON).")
    after: Any = Field(default=None, description="Value on side b (JSON).")


class LiveSide(FrozenModel):
    """A policy live in one environment."""

    version: int
    digest: str
    since: str
    record: int


class PolicyDiff(FrozenModel):
    """One policy name across the two environments."""

    name: str
    status: DiffStatus
    a: LiveSide | None
    b: LiveSide | None
    changes: list[PolicyChange] = Field(default_factory=list)


class EnvironmentDiff(FrozenModel):
    """The semantic diff of two environments' live sets."""

    env_a: str
    env_b: str
    policies: list[PolicyDiff]

    @property
    def identical(self) -> bool:
        """True when every policy is live in both environments with the same digest."""
        return all(p.status == "same" for p in self.policies)


def diff_environments(root: Path, env_a: str, env_b: str) -> EnvironmentDiff:
    """Compare what is live in ``env_a`` and ``env_b`` of the registry at ``root``.

    Raises:
        UsageError: an environment the registry config does not name.
        InputError: not a registry.
        VerificationError: a stored bundle does not match its manifest.
        PolicyLoadError: a stored policy no longer loads.
    """
    reg = Registry.open(root)
    reg.cfg.environment(env_a)
    reg.cfg.environment(env_b)
    live_a = reg.state.live.get(env_a, {})
    live_b = reg.state.live.get(env_b, {})
    policies = []
    for name in sorted(set(live_a) | set(live_b)):
        a, b = live_a.get(name), live_b.get(name)
        changes: list[PolicyChange] = []
        if a is None:
            status: DiffStatus = "only-in-b"
        elif b is None:
            status = "only-in-a"
        elif a.digest == b.digest:
            status = "same"
        else:
            status = "differs"
            changes = _bundle_changes(reg, a.digest, b.digest)
        policies.append(
            PolicyDiff(name=name, status=status, a=_side(a), b=_side(b), changes=changes)
        )
    return EnvironmentDiff(env_a=env_a, env_b=env_b, policies=policies)


def _side(entry: LiveEntry | None) -> LiveSide | None:
    if entry is None:
        return None
    doc = entry.to_json()
    return LiveSide(
        version=entry.version, digest=entry.digest, since=str(doc["since"]), record=entry.sequence
    )


def _bundle_changes(reg: Registry, digest_a: str, digest_b: str) -> list[PolicyChange]:
    policy_a, tree_a = _stored_policy(reg, digest_a)
    policy_b, tree_b = _stored_policy(reg, digest_b)
    changes = policy_changes(policy_a, policy_b)
    catalog_a, catalog_b = _catalog_sha(tree_a), _catalog_sha(tree_b)
    if catalog_a != catalog_b:
        changes.append(
            PolicyChange(
                section="catalog",
                kind="changed",
                field="sha256",
                before=catalog_a,
                after=catalog_b,
            )
        )
    return changes


def _stored_policy(reg: Registry, digest: str) -> tuple[RoutingPolicy, BundleTree]:
    from nexusctl.bundle import bundled_policy
    from nexusctl.policy import load_policy

    path, tree = bundled_policy(reg.store.bundle_dir(digest))
    return load_policy(path).policy, tree


def _catalog_sha(tree: BundleTree) -> str | None:
    return next((f.sha256 for f in tree.manifest.files if f.role == "catalog"), None)


def policy_changes(a: RoutingPolicy, b: RoutingPolicy) -> list[PolicyChange]:
    """Return the semantic differences from policy ``a`` to policy ``b``, in report order."""
    doc_a, doc_b = _document(a), _document(b)
    spec_a, spec_b = doc_a["spec"], doc_b["spec"]
    changes: list[PolicyChange] = []
    for section in KEYED_SECTIONS:
        changes += _keyed_changes(section, spec_a.get(section, []), spec_b.get(section, []))
        if section == "routes":
            order_a = [r["id"] for r in spec_a.get("routes", [])]
            order_b = [r["id"] for r in spec_b.get("routes", [])]
            # First match wins: where a route sits matters as much as what it says.
            if order_a != order_b:
                changes.append(
                    PolicyChange(
                        section="routeOrder", kind="changed", before=order_a, after=order_b
                    )
                )
            default_a, default_b = spec_a["default"], spec_b["default"]
            changes += _field_changes("default", default_a["id"], default_a, default_b)
    changes += _field_changes("limits", None, spec_a.get("limits", {}), spec_b.get("limits", {}))
    meta_a = {k: v for k, v in doc_a["metadata"].items() if k != "version"}
    meta_b = {k: v for k, v in doc_b["metadata"].items() if k != "version"}
    changes += _field_changes("metadata", None, meta_a, meta_b)
    if spec_a.get("catalog") != spec_b.get("catalog"):
        changes.append(
            PolicyChange(
                section="catalog",
                kind="changed",
                field="path",
                before=spec_a.get("catalog"),
                after=spec_b.get("catalog"),
            )
        )
    return changes


def _document(policy: RoutingPolicy) -> dict[str, Any]:
    dumped: dict[str, Any] = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _key(section: str, item: Mapping[str, Any]) -> str:
    if section == "suppressions":
        target = item.get("target")
        return f"{item['rule']}@{target}" if target else str(item["rule"])
    return str(item["id"])


def _keyed_changes(
    section: str, items_a: list[dict[str, Any]], items_b: list[dict[str, Any]]
) -> list[PolicyChange]:
    by_a = {_key(section, i): i for i in items_a}
    by_b = {_key(section, i): i for i in items_b}
    changes = []
    for key in [*by_a, *(k for k in by_b if k not in by_a)]:
        if key not in by_b:
            changes.append(
                PolicyChange(section=section, item=key, kind="removed", before=by_a[key])
            )
        elif key not in by_a:
            changes.append(PolicyChange(section=section, item=key, kind="added", after=by_b[key]))
        else:
            changes += _field_changes(section, key, by_a[key], by_b[key])
    return changes


def _field_changes(
    section: str, item: str | None, a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = ""
) -> list[PolicyChange]:
    """Compare two mappings; nested mappings by their fields, anything else as a whole."""
    changes = []
    for name in [*a, *(k for k in b if k not in a)]:
        path = f"{prefix}{name}"
        before, after = a.get(name), b.get(name)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            changes += _field_changes(section, item, before, after, prefix=f"{path}.")
            continue
        changes.append(
            PolicyChange(
                section=section,
                item=item,
                kind="changed",
                field=path,
                before=before,
                after=after,
            )
        )
    return changes
