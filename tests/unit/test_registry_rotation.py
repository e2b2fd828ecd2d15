"""TUF root rotation: a config change that alters the admins or releasers rotates every
environment's root (root N+1 signed by a threshold of root N's keys and of its own); python-tuf's
real ngclient follows it, refuses metadata a removed releaser signs, and `registry verify`
justifies every root by the config records."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import subprocess
from functools import partial
from pathlib import Path

import pytest

from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry import configchange, ops
from nexusctl.registry.resolve import resolve
from nexusctl.registry.verify import verify_registry
from tests.local_http import serve_local
from tests.registry_kit import World, config_yaml, new_world, routing_diff, signed_bundle

ENVS = ("dev", "staging", "prod")


@pytest.fixture
def world(tmp_path: Path) -> World:
    """v3 live in every environment, promoted by ci."""
    world = new_world(tmp_path / "w")
    walk(world, 3, "ci")
    return world


def walk(world: World, version: int, releaser: str, baseline: str | None = None) -> str:
    """Publish ``version`` and promote it dev -> staging -> prod as ``releaser``."""
    keys, c, reg, key = world.keys, world.clock, world.reg, world.keys[releaser]
    bundle = signed_bundle(world.tmp, version, keys["ci"])  # the trust policy's signer
    digest = ops.publish(reg, bundle, key, c).predicate.bundle.digest
    ops.promote(reg, "retail-chat", version, "dev", key, c)
    c.advance(dt.timedelta(hours=1))
    ops.approve(reg, "retail-chat", version, "staging", keys["alice"], c)
    ops.promote(reg, "retail-chat", version, "staging", key, c)
    c.advance(dt.timedelta(hours=1))
    ops.approve(reg, "retail-chat", version, "prod", keys["alice"], c)
    ops.approve(reg, "retail-chat", version, "prod", keys["bob"], c)
    attestation = None
    if baseline is not None:
        attestation = routing_diff(world.tmp, keys["ci"], baseline, digest, name=f"d{version}")
    ops.promote(reg, "retail-chat", version, "prod", key, c, attestation=attestation)
    return digest


def change(world: World, version: int = 2, **config: object) -> Path:
    path = world.tmp / f"v{version}.yaml"
    path.write_text(config_yaml(world.tmp, version=version, **config))
    return path


def propose(world: World, path: Path) -> configchange.Proposal:
    return configchange.propose(world.reg, path, world.keys["admin"], world.clock)


def root_versions(world: World, env: str) -> list[int]:
    folder = world.reg / "tuf" / env / "metadata"
    return sorted(int(p.name.split(".")[0]) for p in folder.glob("*.root.json"))


def trusted_root_version(state: Path, env: str) -> int:
    doc = json.loads((state / env / "metadata" / "root.json").read_bytes())
    return int(doc["signed"]["version"])


def commit(reg: Path) -> None:
    git = ["git", "-C", str(reg), "-c", "user.name=Mallory", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", "tamper"], check=True)


def test_a_releaser_change_rotates_the_roots_and_the_client_follows(
    world: World, tmp_path: Path
) -> None:
    client = tmp_path / "gateway"
    before = resolve(str(world.reg), "prod", "retail-chat", client)
    assert (before.version, trusted_root_version(client, "prod")) == (3, 1)
    proposal = propose(world, change(world, releasers=("carol",)))
    assert sorted(r["environment"] for r in proposal.roots) == sorted(ENVS)
    assert all(r["version"] == 2 for r in proposal.roots)
    # ci signed every environment's current metadata; the new root no longer trusts it.
    with pytest.raises(UsageError, match="no longer trusts the key"):
        configchange.apply(world.reg, world.keys["admin"], world.clock)
    with pytest.raises(VerificationError) as info:  # ci is not a releaser of v2
        configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["ci"])
    assert info.value.reason == "untrusted-signer"
    configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["carol"])
    assert all(root_versions(world, env) == [1, 2] for env in ENVS)
    assert verify_registry(world.reg)["config_version"] == 2
    # The client walks root 1 -> 2 by itself and accepts carol's re-signed metadata.
    again = resolve(str(world.reg), "prod", "retail-chat", client)
    assert (again.version, again.digest) == (3, before.digest)
    assert trusted_root_version(client, "prod") == 2
    ci = world.keys["ci"]
    # ci may no longer publish or promote; carol promotes the next version and the client gets it.
    with pytest.raises(VerificationError) as info:
        ops.publish(world.reg, signed_bundle(world.tmp, 9, ci), ci, world.clock)
    assert info.value.reason == "untrusted-signer"
    walk(world, 4, "carol", baseline=before.digest)
    after = resolve(str(world.reg), "prod", "retail-chat", client)
    assert after.version == 4
    fresh = resolve(str(world.reg), "prod", "retail-chat", tmp_path / "new-gateway")
    assert (fresh.version, trusted_root_version(tmp_path / "new-gateway", "prod")) == (4, 2)
    assert verify_registry(world.reg)["ok"] is True


def _sign_as(world: World, env: str, releaser: str) -> None:
    """Write fresh targets, snapshot and timestamp for ``env`` signed by ``releaser`` (who
    holds the key, but is no longer trusted), one version above the current ones."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, MetaFile, Snapshot, Targets, Timestamp

    from nexusctl.signing.keys import load_private_key

    folder = world.reg / "tuf" / env / "metadata"
    current = Metadata[Timestamp].from_bytes((folder / "timestamp.json").read_bytes())
    old = Metadata[Targets].from_bytes(
        (folder / f"{current.signed.snapshot_meta.version}.targets.json").read_bytes()
    )
    version = current.signed.version + 1
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    signer = CryptoSigner(load_private_key(world.keys[releaser]))
    targets = Metadata(Targets(version=version, expires=expires, targets=old.signed.targets))
    targets.sign(signer)
    (folder / f"{version}.targets.json").write_bytes(targets.to_bytes())
    snapshot = Snapshot(version=version, expires=expires)
    snapshot.meta["targets.json"] = MetaFile(version=version)
    snapshot_md = Metadata(snapshot)
    snapshot_md.sign(signer)
    (folder / f"{version}.snapshot.json").write_bytes(snapshot_md.to_bytes())
    timestamp = Timestamp(version=version, expires=expires, snapshot_meta=MetaFile(version))
    timestamp_md = Metadata(timestamp)
    timestamp_md.sign(signer)
    (folder / "timestamp.json").write_bytes(timestamp_md.to_bytes())


def test_a_removed_releasers_fresh_metadata_is_refused(world: World, tmp_path: Path) -> None:
    client = tmp_path / "gateway"
    assert resolve(str(world.reg), "prod", "retail-chat", client).version == 3
    # Before the rotation ci's freshly signed metadata is what the root trusts (the control).
    control = tmp_path / "control"
    control_reg = control / "reg"
    subprocess.run(["git", "clone", "--quiet", str(world.reg), str(control_reg)], check=True)
    _sign_as(World(world.tmp, world.keys, world.clock, control_reg), "prod", "ci")
    assert resolve(str(control_reg), "prod", "retail-chat", control / "client").version == 3
    # After it, the same forgery is refused by a client that trusted root 1 and by a new one.
    propose(world, change(world, releasers=("carol",)))
    configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["carol"])
    _sign_as(world, "prod", "ci")
    for state in (client, tmp_path / "new-gateway"):
        with pytest.raises(VerificationError) as info:
            resolve(str(world.reg), "prod", "retail-chat", state)
        assert info.value.reason == "tuf-refused"
        assert "timestamp" in str(info.value)
    assert trusted_root_version(client, "prod") == 2
    commit(world.reg)
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "tuf-mismatch"


def test_new_admins_must_sign_their_root(world: World) -> None:
    """Root 2 needs root 1's threshold (admin) and its own (alice, the new admin)."""
    v2 = change(world, admins=("alice",))
    proposal = configchange.propose(world.reg, v2, world.keys["admin"], world.clock)
    assert {(r["previous_root"][0], r["own"][0]) for r in proposal.roots} == {(1, 0)}
    with pytest.raises(VerificationError) as info:
        configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert info.value.reason == "tuf-root-threshold"
    assert "0 of its own 1" in str(info.value)
    assert root_versions(world, "prod") == [1]
    with pytest.raises(VerificationError) as info:  # mallory holds no root key
        configchange.sign_proposal(world.reg, world.keys["mallory"], world.clock)
    signed = configchange.sign_proposal(world.reg, world.keys["alice"], world.clock)
    assert signed.config == ["admin"]  # alice is not an admin of v1: her config signature
    assert {(r["previous_root"][0], r["own"][0]) for r in signed.roots} == {(1, 1)}
    configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert verify_registry(world.reg)["config_version"] == 2
    # Admins are not TUF releasers: no metadata had to be signed again.
    assert root_versions(world, "prod") == [1, 2]


def test_a_config_change_that_keeps_the_keys_rotates_nothing(world: World) -> None:
    proposal = propose(world, change(world, prod_approvals=1))
    assert proposal.roots == []
    configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert root_versions(world, "prod") == [1]
    assert verify_registry(world.reg)["config_version"] == 2


def test_an_added_environment_gets_its_first_root(world: World, tmp_path: Path) -> None:
    canary = "    - name: canary\n      trustEnvironment: prod\n      gates: [order, signature]\n"
    v2 = change(world, extra_environment=canary)
    proposal = configchange.propose(world.reg, v2, world.keys["admin"], world.clock)
    assert [(r["environment"], r["version"]) for r in proposal.roots] == [("canary", 1)]
    configchange.apply(world.reg, world.keys["admin"], world.clock)
    ops.promote(world.reg, "retail-chat", 3, "canary", world.keys["ci"], world.clock)
    assert verify_registry(world.reg)["live"]["canary"]["retail-chat"]["version"] == 3
    assert resolve(str(world.reg), "canary", "retail-chat", tmp_path / "gw").version == 3


def _rotated(world: World) -> None:
    v2 = change(world, admins=("alice",))
    configchange.propose(world.reg, v2, world.keys["admin"], world.clock)
    configchange.sign_proposal(world.reg, world.keys["alice"], world.clock)
    configchange.apply(world.reg, world.keys["admin"], world.clock)


def test_a_root_not_signed_by_the_previous_threshold_fails_verify(world: World) -> None:
    """Someone holding the new admin key alone re-signs root 2 (drops admin's signature)."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root

    from nexusctl.signing.keys import load_private_key

    _rotated(world)
    path = world.reg / "tuf" / "prod" / "metadata" / "2.root.json"
    root = Metadata[Root].from_bytes(path.read_bytes())
    root.sign(CryptoSigner(load_private_key(world.keys["alice"])))  # replaces the signatures
    path.write_bytes(root.to_bytes())
    commit(world.reg)
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "tuf-root-threshold"
    assert "tuf/prod/metadata/2.root.json" in str(info.value)
    assert "0 of root v1's 1" in str(info.value)
    last = sorted((world.reg / "records").glob("*.json"))[-1]
    assert f"({last.name})" in str(info.value)  # the config record that should justify it


def test_a_root_no_config_record_justifies_fails_verify(world: World) -> None:
    """A properly signed root 2 dropped in by hand (no config change) is still refused."""
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import Metadata, Root

    from nexusctl.signing.keys import load_private_key

    folder = world.reg / "tuf" / "prod" / "metadata"
    root = Metadata[Root].from_bytes((folder / "1.root.json").read_bytes())
    root.signed.version = 2
    root.sign(CryptoSigner(load_private_key(world.keys["admin"])))
    (folder / "2.root.json").write_bytes(root.to_bytes())
    commit(world.reg)
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "tuf-mismatch"
    assert "2.root.json: no config record justifies it" in str(info.value)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_gateway_over_http_follows_the_rotation(world: World, tmp_path: Path) -> None:
    """Pinned to 1.root.json out of band, the client fetches 2.root.json over HTTP itself."""
    root = tmp_path / "pinned-1.root.json"
    root.write_bytes((world.reg / "tuf" / "prod" / "metadata" / "1.root.json").read_bytes())
    client = tmp_path / "gateway"
    with serve_local(partial(_QuietHandler, directory=str(world.reg))) as url:
        assert resolve(url, "prod", "retail-chat", client, root=root).version == 3
        propose(world, change(world, releasers=("carol",)))
        configchange.apply(world.reg, world.keys["admin"], world.clock, world.keys["carol"])
        assert resolve(url, "prod", "retail-chat", client).version == 3
        assert trusted_root_version(client, "prod") == 2
        _sign_as(world, "prod", "ci")
        with pytest.raises(VerificationError) as info:
            resolve(url, "prod", "retail-chat", client)
        assert info.value.reason == "tuf-refused"
