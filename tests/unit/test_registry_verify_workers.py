"""`registry verify`'s workers also check stored bundles and read simulation evidence.

The replay takes a worker's result only for exactly the check it would make and only when it
passed; anything else it checks itself, naming the failure as without workers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nexusctl.errors import VerificationError
from nexusctl.registry import _prefetch, ops
from nexusctl.registry._prefetch import prefetch
from nexusctl.registry.config import load_config
from nexusctl.registry.records import read_unverified
from nexusctl.registry.verify import verify_registry
from tests.registry_kit import World, live_in_prod, routing_diff, to_prod_ready


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> World:
    """v3 live in prod, then v4 promoted to prod on a signed simulation (evidence stored)."""
    world = live_in_prod(tmp_path_factory.mktemp("registry"))
    to_prod_ready(world, 4)
    v3, v4 = _bundle(world, 2), _bundle(world, len(_records(world)))
    diff = routing_diff(world.tmp, world.keys["ci"], v3, v4, name="v4.json")
    ops.promote(
        world.reg, "retail-chat", 4, "prod", world.keys["ci"], world.clock, attestation=diff
    )
    return world


@pytest.fixture
def world(built: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(_prefetch, "MIN_RECORDS", 1)  # workers even for a small log
    copy = tmp_path / "reg"
    shutil.copytree(built.reg, copy, symlinks=True)
    return World(built.tmp, built.keys, built.clock, copy)


def _records(world: World) -> list[Path]:
    return sorted((world.reg / "records").glob("*.json"))


def _commit(world: World) -> None:
    """Commit the tampering, as someone with push access would."""
    import subprocess

    git = ["git", "-C", str(world.reg), "-c", "user.name=Mallory", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "tamper"], check=True)


def _bundle(world: World, sequence: int) -> str:
    path = _records(world)[sequence - 1]
    bundle = read_unverified(path.read_bytes(), path.name).bundle
    assert bundle is not None
    return bundle.digest


def _prefetched(world: World) -> list[_prefetch.Prefetched]:
    configs = [load_config(p) for p in sorted((world.reg / "config").glob("v*.yaml"))]
    checked = list(prefetch(_records(world), configs, world.reg))
    assert all(c is not None for c in checked)
    return [c for c in checked if c is not None]


def test_workers_verify_each_published_bundle_and_read_the_evidence(world: World) -> None:
    checked = _prefetched(world)
    events = [c.predicate.event if c.predicate else None for c in checked]
    publishes = [c for c, e in zip(checked, events, strict=True) if e == "publish"]
    assert len(publishes) == 2
    for item in publishes:
        assert item.predicate is not None
        assert item.predicate.bundle is not None
        (stored,) = item.stored
        assert stored.digest == item.predicate.bundle.digest
        assert stored.time == item.predicate.time
        assert (stored.policy, stored.environment) == ("trust/trust.yaml", "dev")
    with_evidence = [c for c in checked if c.evidence]
    (promotion,) = with_evidence
    assert promotion.predicate is not None
    recorded = [g.evidence for g in promotion.predicate.gates if g.name == "simulation"]
    assert [e.digest for e in promotion.evidence] == recorded


def test_the_replay_uses_the_workers_bundle_checks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nexusctl.signing as signing

    real, main = signing.verify_bundle, os.getpid()
    in_main: list[Path] = []

    def counting(bundle_dir: Path, *args: object, **kwargs: object) -> object:
        if os.getpid() == main:
            in_main.append(bundle_dir)
        return real(bundle_dir, *args, **kwargs)

    monkeypatch.setattr(signing, "verify_bundle", counting)
    assert verify_registry(world.reg)["ok"] is True
    assert in_main == []


def test_a_changed_stored_bundle_is_named_by_the_replay(world: World) -> None:
    v3 = _bundle(world, 2).removeprefix("sha256:")
    (world.reg / "bundles" / v3 / "retail-chat.yaml").write_text("x: 1\n")
    _commit(world)
    publishes = [c for c in _prefetched(world) if c.predicate and c.predicate.event == "publish"]
    assert [bool(c.stored) for c in publishes] == [False, True]  # v3's bytes were changed
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "bundle-tampered"
    assert "record 2 " in str(info.value)


def test_altered_evidence_is_not_taken_from_the_workers(world: World) -> None:
    evidence = next((world.reg / "evidence").glob("*.json"))
    evidence.write_bytes(evidence.read_bytes() + b" ")
    _commit(world)
    assert not any(c.evidence for c in _prefetched(world))
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "gate-simulation"
