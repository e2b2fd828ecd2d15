"""Registry promotion over real git: every gate refuses, then passes, and verify agrees."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import GateFailed, UsageError, VerificationError
from nexusctl.registry import ops
from nexusctl.registry.query import history, status
from nexusctl.registry.verify import verify_registry
from tests.registry_kit import World, clock, new_world, routing_diff, signed_bundle, to_prod_ready

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return new_world(tmp_path)


def _gate(exc: pytest.ExceptionInfo[GateFailed]) -> str:
    return str(getattr(exc.value, "gate", ""))


def test_every_gate_refuses_then_passes(world: World) -> None:
    tmp, keys, c, reg = world.tmp, world.keys, world.clock, world.reg
    v3 = to_prod_ready(world, 3)
    ops.promote(reg, "retail-chat", 3, "prod", keys["ci"], c)

    bundle = signed_bundle(tmp, 4, keys["ci"])
    v4 = ops.publish(reg, bundle, keys["ci"], c).predicate.bundle.digest
    with pytest.raises(GateFailed) as info:  # order: not in staging yet
        ops.promote(reg, "retail-chat", 4, "prod", keys["ci"], c)
    assert _gate(info) == "order"
    ops.promote(reg, "retail-chat", 4, "dev", keys["ci"], c)
    with pytest.raises(GateFailed) as info:  # approvals: none yet
        ops.promote(reg, "retail-chat", 4, "staging", keys["ci"], c)
    assert _gate(info) == "approvals"
    # An approval for another environment or version does not count.
    ops.approve(reg, "retail-chat", 4, "prod", keys["alice"], c)
    with pytest.raises(GateFailed):
        ops.promote(reg, "retail-chat", 4, "staging", keys["ci"], c)
    ops.approve(reg, "retail-chat", 4, "staging", keys["alice"], c)
    with pytest.raises(GateFailed) as info:  # soak: promoted to dev just now
        ops.promote(reg, "retail-chat", 4, "staging", keys["ci"], c)
    assert _gate(info) == "soak"
    c.advance(HOUR)
    ops.promote(reg, "retail-chat", 4, "staging", keys["ci"], c)
    c.advance(HOUR)
    ops.approve(reg, "retail-chat", 4, "prod", keys["bob"], c)

    with pytest.raises(GateFailed) as info:  # simulation: none supplied
        ops.promote(reg, "retail-chat", 4, "prod", keys["ci"], c)
    assert _gate(info) == "simulation"
    cases = {
        "stale": routing_diff(tmp, keys["ci"], v4, v4, name="stale.json"),
        "failed": routing_diff(tmp, keys["ci"], v3, v4, passed=False, name="failed.json"),
        "traffic": routing_diff(tmp, keys["ci"], v3, v4, traffic="ee" * 32, name="t.json"),
        "gates": routing_diff(tmp, keys["ci"], v3, v4, gates_sha="ee" * 32, name="g.json"),
    }
    for label, attestation in cases.items():
        with pytest.raises(GateFailed) as info:
            ops.promote(reg, "retail-chat", 4, "prod", keys["ci"], c, attestation=attestation)
        assert _gate(info) == "simulation", label
    unsigned_by_trust = routing_diff(tmp, keys["mallory"], v3, v4, name="m.json")
    with pytest.raises(VerificationError) as verr:
        ops.promote(reg, "retail-chat", 4, "prod", keys["ci"], c, attestation=unsigned_by_trust)
    assert verr.value.reason == "untrusted-signer"
    good = routing_diff(tmp, keys["ci"], v3, v4)
    result = ops.promote(reg, "retail-chat", 4, "prod", keys["ci"], c, attestation=good)
    verdicts = {g.name: g.verdict for g in result.predicate.gates}
    assert verdicts == {
        "forward": "pass",
        "order": "pass",
        "signature": "pass",
        "simulation": "pass",
        "approvals": "pass",
        "soak": "pass",
        "freeze": "pass",
    }
    assert result.predicate.previous_live == v3
    assert len(result.predicate.approvals) == 2

    # Forward only: v3 cannot be promoted again; rollback needs approvals and a reason.
    with pytest.raises(GateFailed) as info:
        ops.promote(reg, "retail-chat", 3, "prod", keys["ci"], c)
    assert _gate(info) == "forward"
    with pytest.raises(UsageError):
        ops.rollback(reg, "retail-chat", "prod", 3, " ", keys["ci"], c)
    with pytest.raises(GateFailed) as info:
        ops.rollback(reg, "retail-chat", "prod", 3, "spend spike", keys["ci"], c)
    assert _gate(info) == "approvals"
    for approver in ("alice", "carol"):
        ops.approve(reg, "retail-chat", 3, "prod", keys[approver], c, purpose="rollback")
    rolled = ops.rollback(reg, "retail-chat", "prod", 3, "spend spike", keys["ci"], c)
    assert rolled.predicate.reason == "spend spike"
    assert status(reg)["environments"][2]["live"]["retail-chat"]["version"] == 3

    summary = verify_registry(reg)
    assert summary["ok"] is True
    assert summary["records"] == rolled.sequence
    log = subprocess.run(
        ["git", "-C", str(reg), "log", "--format=%s"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert log[0] == f"rollback: retail-chat v3 to prod (record {rolled.sequence})"
    assert len(log) == rolled.sequence


def test_history_at_names_what_was_live_and_why(world: World) -> None:
    keys, c, reg = world.keys, world.clock, world.reg
    to_prod_ready(world, 3)
    promoted = ops.promote(reg, "retail-chat", 3, "prod", keys["ci"], c)
    before = c.now() - dt.timedelta(seconds=1)
    c.advance(HOUR)
    doc = history(reg, env="prod", at=c.now())
    (entry,) = doc["live"]
    assert entry["version"] == 3
    assert entry["promoted_by"] == "ci"
    assert entry["record"] == promoted.sequence
    assert len(entry["approvals"]) == 2
    assert history(reg, env="prod", at=before)["live"] == []
    records = history(reg, name="retail-chat", env="staging")["records"]
    assert [r["event"] for r in records] == ["approve", "promote"]


def test_freeze_window_and_emergency_override(tmp_path: Path) -> None:
    c = clock()
    start = c.now() + dt.timedelta(hours=1, minutes=30)
    freeze = (
        f"      freezeWindows:\n        - {{start: '{start.isoformat()}', "
        f"end: '{(start + dt.timedelta(days=1)).isoformat()}', reason: year-end}}\n"
    )
    world = new_world(tmp_path, c, freeze=freeze)
    keys, reg = world.keys, world.reg
    to_prod_ready(world, 3)
    with pytest.raises(GateFailed) as info:
        ops.promote(reg, "retail-chat", 3, "prod", keys["ci"], c)
    assert _gate(info) == "freeze"
    assert "year-end" in str(info.value)
    with pytest.raises(GateFailed):
        ops.promote(reg, "retail-chat", 3, "prod", keys["ci"], c, override=True)
    with pytest.raises(VerificationError):  # alice is not an override approver
        ops.approve(reg, "retail-chat", 3, "prod", keys["alice"], c, purpose="override")
    ops.approve(reg, "retail-chat", 3, "prod", keys["carol"], c, purpose="override")
    result = ops.promote(reg, "retail-chat", 3, "prod", keys["ci"], c, override=True)
    assert result.predicate.override is True
    assert {g.name: g.verdict for g in result.predicate.gates}["freeze"] == "override"
    assert verify_registry(reg)["ok"] is True


def test_expired_approval_and_wrong_actors_refused(world: World) -> None:
    tmp, keys, c, reg = world.tmp, world.keys, world.clock, world.reg
    bundle = signed_bundle(tmp, 3, keys["ci"])
    with pytest.raises(VerificationError) as info:  # alice is not a releaser
        ops.publish(reg, bundle, keys["alice"], c)
    assert info.value.reason == "untrusted-signer"
    with pytest.raises(VerificationError):  # mallory's key is not in the config at all
        ops.publish(reg, bundle, keys["mallory"], c)
    ops.publish(reg, bundle, keys["ci"], c)
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], c)
    with pytest.raises(VerificationError):  # carol approves prod only
        ops.approve(reg, "retail-chat", 3, "staging", keys["carol"], c)
    ops.approve(
        reg, "retail-chat", 3, "staging", keys["alice"], c, expires_in=dt.timedelta(minutes=5)
    )
    c.advance(HOUR)
    with pytest.raises(GateFailed) as gate:
        ops.promote(reg, "retail-chat", 3, "staging", keys["ci"], c)
    assert "approvals" in str(gate.value)
    with pytest.raises(UsageError):
        ops.approve(
            reg, "retail-chat", 3, "staging", keys["alice"], c, expires_in=dt.timedelta(days=30)
        )


def test_publish_refuses_unsigned_and_duplicate_bundles(world: World) -> None:
    from nexusctl.bundle import build_bundle
    from nexusctl.errors import InputError
    from tests.registry_kit import policy_source

    tmp, keys, c, reg = world.tmp, world.keys, world.clock, world.reg
    unsigned = build_bundle(policy_source(tmp / "u", 7), tmp / "unsigned").path
    with pytest.raises(VerificationError) as info:
        ops.publish(reg, unsigned, keys["ci"], c)
    assert info.value.reason == "signature-missing"
    bundle = signed_bundle(tmp, 3, keys["ci"])
    (bundle / "extra.yaml").symlink_to("/etc/hostname")
    with pytest.raises(VerificationError) as info:
        ops.publish(reg, bundle, keys["ci"], c)
    assert info.value.reason == "symlink"
    (bundle / "extra.yaml").unlink()
    ops.publish(reg, bundle, keys["ci"], c)
    with pytest.raises(InputError, match="already published"):
        ops.publish(reg, bundle, keys["ci"], c)
    assert not any((reg / "bundles").glob(".*"))
