"""`registry verify` names the first bad record or file for each way of tampering with history."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nexusctl.errors import VerificationError
from nexusctl.registry import configchange, ops
from nexusctl.registry.records import read_unverified, sign_record
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import KeySigner
from nexusctl.statements import PromotionPredicate
from tests.registry_kit import (
    World,
    config_yaml,
    live_in_prod,
    new_world,
    routing_diff,
    signed_bundle,
    to_prod_ready,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> World:
    """v3 live in prod, v4 live in staging (module-wide; each test works on a copy)."""
    world = live_in_prod(tmp_path_factory.mktemp("registry"))
    to_prod_ready(world, 4)
    return world


@pytest.fixture
def world(built: World, tmp_path: Path) -> World:
    copy = tmp_path / "reg"
    shutil.copytree(built.reg, copy, symlinks=True)
    return World(built.tmp, built.keys, built.clock, copy)


def records(world: World) -> list[Path]:
    return sorted((world.reg / "records").glob("*.json"))


def commit(world: World) -> None:
    """Commit whatever the test changed, as someone with push access would."""
    import subprocess

    git = ["git", "-C", str(world.reg), "-c", "user.name=Mallory", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", "tamper"], check=True)


def verify(world: World, known: tuple[int, str] | None = None) -> dict[str, object]:
    commit(world)
    return verify_registry(world.reg, known)


def failure(world: World) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify(world)
    return info.value


def forge(world: World, signer: str, **changes: object) -> Path:
    """Append a validly signed, correctly chained record with ``changes`` (by ``signer``)."""
    import hashlib

    last = records(world)[-1]
    raw = last.read_bytes()
    base = read_unverified(raw, last.name)
    fields = base.model_dump()
    fields.update(
        sequence=base.sequence + 1,
        previous_record="sha256:" + hashlib.sha256(raw).hexdigest(),
        actor=signer,
        **changes,
    )
    predicate = PromotionPredicate.model_validate(fields)
    path = last.with_name(f"{base.sequence + 1:012d}.json")
    path.write_bytes(sign_record(predicate, KeySigner.from_file(world.keys[signer])))
    return path


def test_untouched_registry_verifies(world: World) -> None:
    summary = verify(world)
    assert summary["ok"] is True
    assert summary["live"]["prod"]["retail-chat"]["version"] == 3


def _edit_payload(path: Path) -> None:
    doc = json.loads(path.read_bytes())
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["predicate"]["actor"] = "alice"
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(doc))


def _stored_bundle(world: World, record: int) -> Path:
    published = read_unverified(records(world)[record - 1].read_bytes(), "x").bundle
    assert published is not None
    return world.reg / "bundles" / published.digest.removeprefix("sha256:") / "retail-chat.yaml"


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_suffix(".tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


TAMPERS: dict[str, tuple[Callable[[World], None], str, int | None]] = {
    "record edited": (lambda w: _edit_payload(records(w)[4]), "bad-signature", 5),
    "record deleted": (lambda w: records(w)[4].unlink(), "sequence-gap", 5),
    "records reordered": (lambda w: _swap(records(w)[3], records(w)[4]), "chain-broken", 4),
    "record inserted": (
        lambda w: records(w)[-1].rename(records(w)[-1].with_name("000000000099.json")),
        "sequence-gap",
        None,
    ),
    "live set edited": (
        lambda w: (w.reg / "live" / "prod.json").write_text('{"environment":"prod","live":{}}'),
        "live-tampered",
        None,
    ),
    "bundle bytes changed": (
        lambda w: _stored_bundle(w, 2).write_text("x: 1\n"),  # v3's, which record 2 publishes
        "bundle-tampered",
        2,
    ),
    "tuf targets edited": (
        lambda w: (w.reg / "tuf" / "prod" / "metadata" / "1.targets.json").write_text("{}"),
        "tuf-mismatch",
        None,
    ),
    "unrecorded bundle": (
        lambda w: (w.reg / "bundles" / ("0" * 64)).mkdir(),
        "unrecorded-bundle",
        None,
    ),
    "trust policy swapped": (
        lambda w: (w.reg / "trust" / "trust.yaml").write_text("x"),
        "trust-policy-changed",
        None,
    ),
    "config relaxed in place": (
        lambda w: (w.reg / "config" / "v000001.yaml").write_text(
            (w.reg / "config" / "v000001.yaml").read_text().replace("threshold: 2", "threshold: 0")
        ),
        "config-mismatch",
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampering_is_named(world: World, case: str) -> None:
    tamper, reason, sequence = TAMPERS[case]
    tamper(world)
    error = failure(world)
    assert error.reason == reason, str(error)
    if sequence is not None:
        assert f"record {sequence} " in str(error)


def test_approval_by_non_approver_is_refused(world: World) -> None:
    forge(world, "carol", event="approve", environment="staging")
    error = failure(world)
    assert error.reason == "untrusted-signer"


def test_promotion_that_skipped_staging_is_refused(world: World) -> None:
    # A releaser with push access appends a promotion of v5 (only in dev) straight to prod.
    tmp = world.tmp / "skip"
    ops.publish(world.reg, signed_bundle(tmp, 5, world.keys["ci"]), world.keys["ci"], world.clock)
    last = read_unverified(records(world)[-1].read_bytes(), "x")
    forge(
        world,
        "ci",
        event="promote",
        environment="prod",
        bundle=last.bundle.model_dump() if last.bundle else None,
        gates=[],
        approvals=[],
        grant=None,
        previous_live=None,
    )
    (world.reg / "live").mkdir(exist_ok=True)
    error = failure(world)
    assert error.reason in ("gate-forward", "gate-order", "gate-mismatch"), str(error)


def test_rewritten_history_is_caught_against_a_kept_state(world: World) -> None:
    summary = verify(world)
    known = (int(summary["records"]), str(summary["head"]))
    # Rewrite: replace the last record by another validly signed one (and force-push, say).
    records(world)[-1].unlink()
    forge(world, "bob", reason="rewritten")
    assert verify(world)["ok"] is True  # a fresh verifier cannot tell
    with pytest.raises(VerificationError) as info:
        verify(world, known)
    assert info.value.reason == "history-rewritten"
    records(world)[-1].unlink()
    with pytest.raises(VerificationError) as info:
        verify(world, known)
    assert info.value.reason == "history-rewritten"


def test_config_change_needs_the_previous_admins_threshold(tmp_path: Path) -> None:
    world = new_world(tmp_path, admin_threshold=2)
    # admin_threshold=2 needs both admins at init.
    assert verify(world)["config_version"] == 1


def test_config_rotation_counts_only_previous_admins(tmp_path: Path) -> None:
    from nexusctl.registry.config import load_config

    world = new_world(tmp_path / "w")
    relaxed = tmp_path / "v2.yaml"
    # v2 makes mallory-free alice the only admin and relaxes prod approvals to 0.
    relaxed.write_text(config_yaml(world.tmp, version=2, admins=("alice",), prod_approvals=0))
    load_config(relaxed)
    with pytest.raises(VerificationError):  # alice is not an admin of v1
        configchange.propose(world.reg, relaxed, world.keys["alice"], world.clock)
    configchange.propose(world.reg, relaxed, world.keys["admin"], world.clock)
    # The TUF roots rotate too: root 2 needs its own admin's signature (alice's) as well.
    with pytest.raises(VerificationError) as info:
        configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert info.value.reason == "tuf-root-threshold"
    assert configchange.sign_proposal(world.reg, world.keys["alice"], world.clock).config == [
        "admin"
    ]
    result = configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert result.predicate.config_signatures == ["admin"]
    assert verify(world)["config_version"] == 2
    # Under v2, alice is the admin; admin's signature no longer counts.
    v3 = tmp_path / "v3.yaml"
    v3.write_text(config_yaml(world.tmp, version=3, admins=("alice",), prod_approvals=0))
    with pytest.raises(VerificationError):
        configchange.propose(world.reg, v3, world.keys["admin"], world.clock)


def test_config_apply_refused_below_threshold(tmp_path: Path) -> None:
    world = new_world(tmp_path / "w", admin_threshold=1)
    v2 = tmp_path / "v2.yaml"
    v2.write_text(config_yaml(world.tmp, version=2, admin_threshold=2))
    configchange.propose(world.reg, v2, world.keys["admin"], world.clock)
    # Root 2 has root threshold 2: it needs both admins' signatures, v2 itself only one.
    configchange.sign_proposal(world.reg, world.keys["admin2"], world.clock)
    configchange.apply(world.reg, world.keys["admin"], world.clock)
    v3 = tmp_path / "v3.yaml"
    v3.write_text(config_yaml(world.tmp, version=3, prod_approvals=0))
    configchange.propose(world.reg, v3, world.keys["admin"], world.clock)
    with pytest.raises(VerificationError) as info:
        configchange.apply(world.reg, world.keys["admin"], world.clock)
    assert info.value.reason == "config-threshold"
    assert configchange.sign_proposal(world.reg, world.keys["admin2"], world.clock).config == [
        "admin",
        "admin2",
    ]
    configchange.apply(world.reg, world.keys["admin2"], world.clock)
    assert verify(world)["config_version"] == 3


def test_config_record_without_signatures_is_refused(world: World) -> None:
    v2 = world.reg / "config" / "v000002.yaml"
    v2.write_text(config_yaml(world.tmp, version=2, prod_approvals=0))
    from nexusctl.registry.config import load_config

    loaded = load_config(v2)
    forge(
        world,
        "admin",
        event="config",
        config_version=2,
        config_digest=loaded.digest,
        bundle=None,
        environment=None,
        grant=None,
    )
    error = failure(world)
    assert error.reason == "config-threshold"


def test_altered_simulation_evidence_is_refused(world: World) -> None:
    v3 = read_unverified(records(world)[2].read_bytes(), "x").bundle
    assert v3 is not None
    digest = read_unverified(records(world)[-1].read_bytes(), "x").bundle
    assert digest is not None
    good = routing_diff(world.tmp, world.keys["ci"], v3.digest, digest.digest, name="ok.json")
    ops.promote(
        world.reg, "retail-chat", 4, "prod", world.keys["ci"], world.clock, attestation=good
    )
    assert verify(world)["ok"] is True
    evidence = next((world.reg / "evidence").glob("*.json"))
    evidence.write_bytes(evidence.read_bytes() + b" ")
    assert failure(world).reason == "gate-simulation"


@pytest.mark.parametrize(
    ("when", "reason"),
    [("2000-01-01T00:00:00Z", "time-regression"), ("2099-01-01T00:00:00Z", "time-in-future")],
)
def test_records_with_a_wrong_clock_are_refused(world: World, when: str, reason: str) -> None:
    # A releaser's clock set back (or forward, to fake soak) shows in the signed times.
    forge(world, "bob", time=when)
    error = failure(world)
    assert error.reason == reason
    assert f"record {len(records(world))} " in str(error)


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check record signatures in worker processes even for a small log."""
    from nexusctl.registry import _prefetch

    monkeypatch.setattr(_prefetch, "MIN_RECORDS", 1)


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampering_is_named_the_same_with_signature_workers(
    world: World, workers: None, case: str
) -> None:
    tamper, reason, sequence = TAMPERS[case]
    assert verify(world)["ok"] is True
    tamper(world)
    error = failure(world)
    assert error.reason == reason, str(error)
    if sequence is not None:
        assert f"record {sequence} " in str(error)


def test_workers_accept_only_keys_of_the_config_in_effect(
    world: World, workers: None, tmp_path: Path
) -> None:
    """A key that only an unapplied config names verifies in a worker, yet is refused."""
    from nexusctl.signing.keys import generate_key_pair

    generate_key_pair(tmp_path / "dave.pem")
    text = config_yaml(world.tmp, version=2)
    dave = (tmp_path / "dave.pub").read_text().replace("\n", "\n        ")
    text = text.replace("  admins:", f"    - id: dave\n      pem: |\n        {dave}\n  admins:", 1)
    (world.reg / "config" / "v000002.yaml").write_text(text)
    world.keys["dave"] = tmp_path / "dave.pem"
    forge(world, "dave", reason="not yet a key")
    from nexusctl.registry._prefetch import prefetch
    from nexusctl.registry.config import load_config

    configs = [load_config(p) for p in sorted((world.reg / "config").glob("v*.yaml"))]
    checked = list(prefetch(records(world), configs))
    assert all(c is not None and c.fingerprint for c in checked)  # dave's verified, too
    error = failure(world)
    assert error.reason == "untrusted-signer", str(error)
    assert f"record {len(records(world))} " in str(error)
