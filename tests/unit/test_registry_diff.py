"""`registry diff`: two environments' live sets compared as policies, over a real registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.errors import UsageError, VerificationError
from nexusctl.policy import load_policy
from nexusctl.registry.diff import PolicyChange, diff_environments, policy_changes
from nexusctl.registry.query import history
from tests.registry_kit import POLICIES, World, diverged_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return diverged_world(tmp_path)


def by_place(changes: list[PolicyChange]) -> dict[tuple[str, str | None, str | None], PolicyChange]:
    return {(c.section, c.item, c.field): c for c in changes}


def test_versions_digests_and_every_changed_field(world: World) -> None:
    result = diff_environments(world.reg, "dev", "staging")
    assert not result.identical
    (policy,) = result.policies
    assert (policy.name, policy.status) == ("retail-chat", "differs")
    assert policy.a is not None
    assert policy.b is not None
    assert (policy.a.version, policy.b.version) == (4, 3)
    assert policy.a.digest != policy.b.digest
    changes = by_place(policy.changes)
    threshold = changes[("routes", "advice", "complexityThresholds")]
    assert threshold.kind == "changed"
    assert threshold.before[0] == {"atLeast": 0.5, "minTier": "mid"}
    assert threshold.after[0] == {"atLeast": 0.6, "minTier": "mid"}
    slo = changes[("routes", "faq", "sloMs")]
    assert (slo.before, slo.after) == (3000, 4000)
    limit = changes[("limits", None, "frontierShareMaxPct")]
    assert (limit.before, limit.after) == (3, 5)
    guardrail = changes[("guardrails", "no-mistral", None)]
    assert guardrail.kind == "removed"  # in dev (a), not in staging (b)
    assert guardrail.before["deny"]["providers"] == ["mistral"]
    tenant = changes[("tenants", "wealth", None)]
    assert tenant.kind == "added"
    assert tenant.after == {"id": "wealth", "monthlyBudget": 15000000000}
    order = changes[("routeOrder", None, None)]
    assert order.before == ["faq", "advice", "vision-statements"]
    assert order.after == ["faq", "vision-statements", "advice"]
    owner = changes[("metadata", None, "owner")]
    assert owner.after == "retail-platform@nebula.example"
    assert len(policy.changes) == 7  # nothing else: the rest of the policy is equal


def test_same_bundle_and_one_sided_policies(world: World) -> None:
    same = diff_environments(world.reg, "staging", "staging")
    assert same.identical
    assert [p.status for p in same.policies] == ["same"]
    assert same.policies[0].changes == []
    one_sided = diff_environments(world.reg, "prod", "dev")
    (policy,) = one_sided.policies
    assert policy.status == "only-in-b"
    assert policy.a is None
    assert policy.b is not None
    assert policy.b.version == 4
    assert not one_sided.identical


def test_unknown_environment_is_a_usage_error(world: World) -> None:
    with pytest.raises(UsageError, match="'qa' is not in the registry"):
        diff_environments(world.reg, "dev", "qa")


def test_a_stored_bundle_edited_on_disk_is_never_read(world: World) -> None:
    live = diff_environments(world.reg, "dev", "staging").policies[0].a
    assert live is not None
    stored = world.reg / "bundles" / live.digest.removeprefix("sha256:") / "retail-chat.yaml"
    stored.write_text(stored.read_text().replace("sloMs: 3000", "sloMs: 9000"))
    with pytest.raises(VerificationError) as info:
        diff_environments(world.reg, "dev", "staging")
    assert info.value.reason == "digest-mismatch"


def test_identical_policies_have_no_changes() -> None:
    policy = load_policy(POLICIES / "retail-chat.yaml").policy
    assert policy_changes(policy, policy) == []
    candidate = load_policy(POLICIES / "retail-chat.candidate.yaml").policy
    places = {(c.section, c.item, c.field) for c in policy_changes(policy, candidate)}
    assert ("routes", "wealth-advice", None) in places
    assert ("default", "default", "complexityThresholds") in places
    assert ("metadata", None, "description") not in places


def test_history_at_names_the_approvers(world: World) -> None:
    doc = history(world.reg, env="staging", at=world.clock.now())
    (entry,) = doc["live"]
    assert entry["approved_by"] == ["alice"]
    assert entry["reason"] is None
