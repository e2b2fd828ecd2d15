"""`registry verify` parses each signed record payload strictly, with or without its workers.

The workers hand back the verified payload bytes; the replay parses them once, as the sequential
check does. A record that is validly signed but whose payload is hostile JSON (a duplicate key,
nesting beyond the bound, an integer or number JSON cannot hold) is refused the same way on
both paths; one that is only not canonical is accepted on both, as it always was.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nexusctl.errors import VerificationError
from nexusctl.registry import _prefetch
from nexusctl.registry.records import CONFIG_SUBJECT, read_unverified
from nexusctl.registry.verify import verify_registry
from nexusctl.signing import KeySigner, Subject
from nexusctl.statements import PROMOTION_PREDICATE, PromotionPredicate, statement_bytes
from tests.registry_kit import World, live_in_prod


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> World:
    world = live_in_prod(tmp_path_factory.mktemp("registry"))
    return world


def _copy(built: World, tmp_path: Path) -> World:
    copy = tmp_path / "reg"
    shutil.copytree(built.reg, copy, symlinks=True)
    return World(built.tmp, built.keys, built.clock, copy)


@pytest.fixture(params=["sequential", "workers"])
def world(
    built: World, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> World:
    """A copy of the registry, verified sequentially or with the signature workers."""
    monkeypatch.setattr(_prefetch, "MIN_RECORDS", 1 if request.param == "workers" else 10**9)
    return _copy(built, tmp_path)


def _records(world: World) -> list[Path]:
    return sorted((world.reg / "records").glob("*.json"))


def _commit(world: World) -> None:
    import subprocess

    git = ["git", "-C", str(world.reg), "-c", "user.name=Mallory", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "append"], check=True)


def _append(world: World, edit: Callable[[bytes], bytes]) -> int:
    """Append the next record, a copy of an approval by bob, its payload bytes ``edit``-ed.

    The payload is signed as is by bob, correctly chained: only its JSON can be wrong.
    """
    approvals = [p for p in _records(world) if read_unverified(p.read_bytes(), p.name).grant]
    model = read_unverified(approvals[-1].read_bytes(), approvals[-1].name)
    last = _records(world)[-1]
    raw = last.read_bytes()
    sequence = len(_records(world)) + 1
    fields = model.model_dump()
    fields.update(
        sequence=sequence,
        previous_record="sha256:" + hashlib.sha256(raw).hexdigest(),
        actor="bob",
        time=read_unverified(raw, last.name).time,
    )
    predicate = PromotionPredicate.model_validate(fields)
    assert predicate.bundle is not None
    subject = Subject.of(predicate.bundle.name, predicate.bundle.digest)
    payload = statement_bytes([subject], PROMOTION_PREDICATE, predicate.model_dump(mode="json"))
    signed = KeySigner.from_file(world.keys["bob"]).sign_statement(edit(payload))
    (world.reg / "records" / f"{sequence:012d}.json").write_bytes(signed)
    _commit(world)
    return sequence


def _annotate(value: bytes) -> Callable[[bytes], bytes]:
    """Give the subject an ``annotations`` member with ``value`` (the model takes any JSON)."""

    def edit(payload: bytes) -> bytes:
        edited = payload.replace(
            b'"subject":[{', b'"subject":[{"annotations":{"x":' + value + b"},", 1
        )
        assert edited != payload
        return edited

    return edit


def _duplicate_actor(payload: bytes) -> bytes:
    edited = payload.replace(b'"actor":"bob"', b'"actor":"bob","actor":"bob"', 1)
    assert edited != payload
    return edited


HOSTILE: dict[str, Callable[[bytes], bytes]] = {
    "duplicate key": _duplicate_actor,
    "nested deeper than the bound": _annotate(b"[" * 40 + b"]" * 40),
    "integer beyond 2^53": _annotate(b"123456789012345678901234567890"),
    "non-finite number": _annotate(b"1e400"),
    "NaN": _annotate(b"NaN"),
}


def test_a_lax_variant_of_the_record_verifies(world: World) -> None:
    """The control: the same record with JSON the bounds allow verifies on either path."""
    sequence = _append(world, _annotate(b"[[1]]"))
    assert verify_registry(world.reg)["records"] == sequence


def test_a_non_canonical_payload_is_accepted_as_before(world: World) -> None:
    """Signed bytes need not be canonical (never required): pretty-printed JSON verifies."""
    import json

    sequence = _append(world, lambda p: json.dumps(json.loads(p), indent=2).encode())
    assert verify_registry(world.reg)["records"] == sequence


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_payload_is_refused_on_either_path(world: World, case: str) -> None:
    sequence = _append(world, HOSTILE[case])
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "malformed-record", str(info.value)
    assert f"record {sequence} " in str(info.value)


def test_the_workers_hand_back_the_signed_payload(
    built: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a worker returns is the verified payload; the predicate is parsed from it."""
    from nexusctl.registry.config import load_config

    monkeypatch.setattr(_prefetch, "MIN_RECORDS", 1)
    world = _copy(built, tmp_path)
    configs = [load_config(p) for p in sorted((world.reg / "config").glob("v*.yaml"))]
    sequence = _append(world, _duplicate_actor)
    checked = list(_prefetch.prefetch(_records(world), configs, world.reg))
    last = checked[sequence - 1]
    assert last is not None
    assert last.fingerprint  # bob's signature verified
    assert b'"actor":"bob","actor":"bob"' in last.payload
    assert last.predicate is None  # ... but it is no promotion statement
    first = checked[0]
    assert first is not None
    assert first.predicate is not None
    assert first.predicate.event == "init"
    assert first.predicate.config_digest.startswith("sha256:")
    assert CONFIG_SUBJECT.encode() in first.payload
