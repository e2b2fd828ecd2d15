"""A trust-policy change through `config propose --trust-policy`: it counts only with the
previous admins' threshold (its digest is a subject of the statement they sign), later events
are judged by it, records before it stay verified under the old one, and a trust policy swapped
without a config record (or with a record the threshold did not sign) is refused."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import InputError, UsageError, VerificationError
from nexusctl.registry import configchange, ops
from nexusctl.registry.config import load_config
from nexusctl.registry.records import read_unverified, sign_record
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import KeySigner
from nexusctl.statements import PromotionPredicate
from tests.registry_kit import World, config_yaml, new_world, signed_bundle

#: The bank rotated its bundle signer: from now on bob signs bundles, ci no longer does.
NEW_TRUST = """apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata: {name: nebula-trust, version: 2}
spec:
  environments:
    dev: {keys: [{id: bob, path: bob.pub}]}
    staging: {keys: [{id: bob, path: bob.pub}]}
    prod: {keys: [{id: bob, path: bob.pub}]}
"""


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Config changes need both admins; v3 (signed by ci) is published and live in dev."""
    world = new_world(tmp_path / "w", soak=0, admin_threshold=2)
    ci = world.keys["ci"]
    ops.publish(world.reg, signed_bundle(world.tmp, 3, ci), ci, world.clock)
    ops.promote(world.reg, "retail-chat", 3, "dev", ci, world.clock)
    return world


def new_trust(world: World) -> Path:
    folder = world.tmp / "trust-v2"
    folder.mkdir(exist_ok=True)
    shutil.copy(world.tmp / "bob.pub", folder / "bob.pub")
    (folder / "trust.yaml").write_text(NEW_TRUST)
    return folder / "trust.yaml"


def v2(world: World, **config: object) -> Path:
    path = world.tmp / "v2.yaml"
    config.setdefault("trust_policy", "trust/v2/trust.yaml")
    path.write_text(config_yaml(world.tmp, version=2, admin_threshold=2, soak=0, **config))
    return path


def records(world: World) -> list[Path]:
    return sorted((world.reg / "records").glob("*.json"))


def commit(reg: Path) -> None:
    git = ["git", "-C", str(reg), "-c", "user.name=Mallory", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", "tamper"], check=True)


def failure(world: World) -> VerificationError:
    commit(world.reg)
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    return info.value


def changed(world: World) -> str:
    """Apply the trust-policy change with both admins; return its digest."""
    keys = world.keys
    trust = new_trust(world)
    proposal = configchange.propose(world.reg, v2(world), keys["admin"], world.clock, trust)
    configchange.sign_proposal(world.reg, keys["admin2"], world.clock)
    configchange.apply(world.reg, keys["admin2"], world.clock)
    assert proposal.trust_digest is not None
    return proposal.trust_digest


def test_a_trust_policy_change_applies_with_the_threshold(world: World) -> None:
    keys, reg, c = world.keys, world.reg, world.clock
    proposal = configchange.propose(reg, v2(world), keys["admin"], c, new_trust(world))
    digest = "sha256:" + hashlib.sha256(NEW_TRUST.encode()).hexdigest()
    assert proposal.trust_digest == digest
    before = records(world)
    with pytest.raises(VerificationError) as info:  # one admin of the two v1 requires
        configchange.apply(reg, keys["admin"], c)
    assert info.value.reason == "config-threshold"
    assert "with its trust policy has 1 of the 2" in str(info.value)
    assert records(world) == before
    configchange.sign_proposal(reg, keys["admin2"], c)
    result = configchange.apply(reg, keys["admin2"], c)
    assert result.predicate.trust_policy_digest == digest
    assert (reg / "trust" / "v2" / "bob.pub").read_bytes() == (world.tmp / "bob.pub").read_bytes()
    assert (reg / "trust" / "trust.yaml").read_bytes() == (world.tmp / "trust.yaml").read_bytes()
    # From now on bundles are judged by the new policy: ci's signature no longer counts...
    with pytest.raises(VerificationError):
        ops.publish(reg, signed_bundle(world.tmp / "ci", 4, keys["ci"]), keys["ci"], c)
    # ...bob's does, at publish and at the signature gate of a promotion.
    ops.publish(reg, signed_bundle(world.tmp, 4, keys["bob"]), keys["ci"], c)
    promoted = ops.promote(reg, "retail-chat", 4, "dev", keys["ci"], c)
    assert {g.name: g.detail for g in promoted.predicate.gates}["signature"] == "key:bob"
    # The whole history verifies: v3's records under the old policy, v4's under the new one.
    summary = verify_registry(reg)
    assert (summary["config_version"], summary["live"]["dev"]["retail-chat"]["version"]) == (2, 4)


def test_the_old_trust_policy_swapped_by_hand_is_refused(world: World) -> None:
    changed(world)
    (world.reg / "trust" / "trust.yaml").write_text(NEW_TRUST)  # history re-judged by bob
    shutil.copy(world.tmp / "bob.pub", world.reg / "trust" / "bob.pub")
    error = failure(world)
    assert error.reason == "trust-policy-changed"
    assert f"({records(world)[0].name})" in str(error)  # the init record it was made under


def test_the_new_trust_policy_swapped_by_hand_is_refused(world: World) -> None:
    changed(world)
    path = world.reg / "trust" / "v2" / "trust.yaml"
    path.write_text(NEW_TRUST.replace("bob.pub", "../ci.pub"))
    error = failure(world)
    assert error.reason == "trust-policy-changed"


def _hand_applied(world: World, trust: bytes, rel: str) -> None:
    """An admin with push access applies a proposal both admins signed *without* a trust
    policy, writing the trust policy file at ``rel`` in the same commit and naming it in the
    record."""
    reg = world.reg
    proposed = reg / "config" / "proposed"
    (proposed / "v000002.yaml").rename(reg / "config" / "v000002.yaml")
    (proposed / "v000002.sig").rename(reg / "config" / "v000002.sig")
    shutil.rmtree(proposed)
    (reg / rel).parent.mkdir(parents=True, exist_ok=True)
    (reg / rel).write_bytes(trust)
    shutil.copy(world.tmp / "bob.pub", (reg / rel).parent / "bob.pub")
    last = records(world)[-1]
    raw = last.read_bytes()
    base = read_unverified(raw, last.name)
    fields = base.model_dump()
    fields.update(
        sequence=base.sequence + 1,
        event="config",
        actor="admin",
        previous_record="sha256:" + hashlib.sha256(raw).hexdigest(),
        environment=None,
        bundle=None,
        previous_live=None,
        gates=[],
        config_version=2,
        config_digest=load_config(reg / "config" / "v000002.yaml").digest,
        trust_policy_digest="sha256:" + hashlib.sha256(trust).hexdigest(),
        config_signatures=["admin", "admin2"],
    )
    admin = KeySigner.from_file(world.keys["admin"])
    signed = sign_record(PromotionPredicate.model_validate(fields), admin)
    last.with_name(f"{base.sequence + 1:012d}.json").write_bytes(signed)


def _signed_by_both(world: World, config: Path) -> None:
    """Both admins sign ``config`` as proposed, with no trust policy staged beside it."""
    proposed = world.reg / "config" / "proposed" / "v000002.yaml"
    proposed.parent.mkdir(parents=True)
    proposed.write_bytes(config.read_bytes())
    commit(world.reg)
    for admin in ("admin", "admin2"):
        configchange.sign_proposal(world.reg, world.keys[admin], world.clock)


@pytest.mark.parametrize("swap", ["none", "in-place", "new-path"])
def test_a_trust_policy_the_threshold_did_not_sign_is_refused(world: World, swap: str) -> None:
    rel = "trust/v2/trust.yaml" if swap == "new-path" else "trust/trust.yaml"
    _signed_by_both(world, v2(world, trust_policy=rel, prod_approvals=1))
    old = (world.reg / "trust" / "trust.yaml").read_bytes()
    _hand_applied(world, old if swap == "none" else NEW_TRUST.encode(), rel)
    if swap == "none":  # the control: the same hand-made apply, same trust policy, verifies
        commit(world.reg)
        assert verify_registry(world.reg)["config_version"] == 2
        return
    error = failure(world)
    assert error.reason == "trust-policy-changed"
    if swap == "in-place":  # the file records before the change rely on was overwritten
        assert f"({records(world)[0].name})" in str(error)
    else:  # the config record names a trust policy the admins' threshold did not sign
        assert f"({records(world)[-1].name})" in str(error)
        assert "with its trust policy has 0 of the 2" in str(error)


def test_a_proposal_names_a_new_trust_policy_path(world: World) -> None:
    keys, c = world.keys, world.clock
    same_path = v2(world, trust_policy="trust/trust.yaml")
    with pytest.raises(InputError, match="must be a new path"):
        configchange.propose(world.reg, same_path, keys["admin"], c, new_trust(world))
    with pytest.raises(UsageError, match="without a new trust policy"):
        configchange.propose(world.reg, v2(world), keys["admin"], c)
    lacking = new_trust(world)
    lacking.write_text(NEW_TRUST.replace("    prod: {keys: [{id: bob, path: bob.pub}]}\n", ""))
    with pytest.raises(InputError, match="no trust environment prod"):
        configchange.propose(world.reg, v2(world), keys["admin"], c, lacking)
    assert verify_registry(world.reg)["config_version"] == 1


def _resign_stored_bundles(world: World, key: Path) -> None:
    from nexusctl.signing import sign_bundle

    for folder in sorted((world.reg / "bundles").iterdir()):
        (folder / "signature.sigstore.json").unlink()
        sign_bundle(folder, KeySigner.from_file(key))


def test_a_key_file_the_trust_policy_names_swapped_by_hand_is_refused(world: World) -> None:
    """mallory swaps the key file trust.yaml names and re-signs every stored bundle with her
    key: every signature check would pass, but the admins pinned the key file at init."""
    shutil.copy(world.tmp / "mallory.pub", world.reg / "trust" / "ci.pub")
    _resign_stored_bundles(world, world.keys["mallory"])
    error = failure(world)
    assert error.reason == "trust-policy-changed"
    assert f"({records(world)[0].name})" in str(error)
    assert "a file it names is not the one they signed" in str(error)


def test_a_key_file_of_a_new_trust_policy_swapped_by_hand_is_refused(world: World) -> None:
    changed(world)
    shutil.copy(world.tmp / "mallory.pub", world.reg / "trust" / "v2" / "bob.pub")
    error = failure(world)
    assert error.reason == "trust-policy-changed"
    assert f"({records(world)[-1].name})" in str(error)


def test_a_registry_initialised_before_init_pinned_the_trust_policy_verifies(
    world: World,
) -> None:
    """Its init signatures cover the config alone; they still count (and nothing else does)."""
    from nexusctl.registry.configchange import config_statement

    loaded = load_config(world.reg / "config" / "v000001.yaml")
    for admin in ("admin", "admin2"):
        signer = KeySigner.from_file(world.keys[admin])
        path = world.reg / "config" / "v000001.sig" / f"{admin}.json"
        path.write_bytes(signer.sign_statement(config_statement(loaded)))
    commit(world.reg)
    summary = verify_registry(world.reg)
    assert summary["records"] == len(records(world))
    assert summary["trust_files_pinned"] is False  # verify says so (the CLI warns)
    (world.reg / "config" / "v000001.sig" / "admin2.json").unlink()  # threshold 2: one short
    error = failure(world)
    assert error.reason == "config-threshold"


def test_only_signatures_over_the_pinned_files_count_as_pinning(world: World) -> None:
    """One admin signed the pinned statement, the other the config alone: the threshold is
    met only by counting the old form, so the registry verifies as not pinned; a config change
    that brings a trust policy (signed pinned by both) pins it again."""
    from nexusctl.registry.configchange import config_statement

    assert verify_registry(world.reg)["trust_files_pinned"] is True
    loaded = load_config(world.reg / "config" / "v000001.yaml")
    path = world.reg / "config" / "v000001.sig" / "admin2.json"
    path.write_bytes(
        KeySigner.from_file(world.keys["admin2"]).sign_statement(config_statement(loaded))
    )
    commit(world.reg)
    assert verify_registry(world.reg)["trust_files_pinned"] is False
    warned = _cli_verify(world.reg)
    assert warned.returncode == 0, warned.stderr
    assert "warning: the admins' signatures cover the trust policy file but not" in warned.stderr
    changed(world)
    assert verify_registry(world.reg)["trust_files_pinned"] is True
    quiet = _cli_verify(world.reg)
    assert quiet.returncode == 0, quiet.stderr
    assert "warning" not in quiet.stderr


def _cli_verify(reg: Path) -> subprocess.CompletedProcess[str]:
    import sys

    nexusctl = Path(sys.executable).parent / "nexusctl"
    return subprocess.run(
        [str(nexusctl), "registry", "verify", "-r", str(reg)], capture_output=True, text=True
    )
