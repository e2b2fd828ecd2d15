"""Each event commits exactly what it changed: the Store stages only the paths its writing
methods noted (no ``git add --all``), so a writer that bypassed them would leave a file on
disk that HEAD lacks. After every kind of event the work tree equals HEAD, file for file,
and the clean stamp names HEAD; without a stamp naming HEAD the next command checks the
whole tree and undoes what an interrupted event left."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import VerificationError
from nexusctl.registry import configchange, ops
from nexusctl.registry._store import CLEAN_STAMP, Store
from nexusctl.registry.verify import verify_registry
from tests.registry_kit import World, config_yaml, new_world, signed_bundle

NEW_TRUST = """apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata: {name: nebula-trust, version: 2}
spec:
  environments:
    dev: {keys: [{id: ci, path: ci.pub}, {id: bob, path: bob.pub}]}
    staging: {keys: [{id: ci, path: ci.pub}]}
    prod: {keys: [{id: ci, path: ci.pub}]}
"""


def git(reg: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(reg), *args], capture_output=True, text=True, check=True
    ).stdout


def head_files(reg: Path) -> set[str]:
    return set(git(reg, "ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0")) - {""}


def disk_files(reg: Path) -> set[str]:
    out = set()
    for path in reg.rglob("*"):
        rel = path.relative_to(reg)
        if rel.parts[0] != ".git" and (path.is_symlink() or not path.is_dir()):
            out.add(rel.as_posix())
    return out


def assert_committed(reg: Path) -> None:
    """The work tree is HEAD's tree exactly, and the clean stamp names HEAD."""
    assert git(reg, "status", "--porcelain", "--untracked-files=all", "--ignored") == ""
    assert disk_files(reg) == head_files(reg)
    head = git(reg, "rev-parse", "HEAD").strip()
    assert (reg / ".git" / CLEAN_STAMP).read_text().strip() == head


@pytest.fixture
def world(tmp_path: Path) -> World:
    return new_world(tmp_path / "w", soak=0, admin_threshold=2)


def test_every_event_commits_every_file_it_wrote_moved_or_deleted(world: World) -> None:
    keys, reg, c = world.keys, world.reg, world.clock
    assert_committed(reg)  # init
    for version in (3, 4):
        ops.publish(reg, signed_bundle(world.tmp, version, keys["ci"]), keys["ci"], c)
        assert_committed(reg)
        promoted = ops.promote(reg, "retail-chat", version, "dev", keys["ci"], c)
        assert_committed(reg)
        # The commit is the event's: its actor and time, its message, whatever git config says.
        author = git(reg, "log", "-1", "--format=%an <%ae> %cn <%ce> %aI %cI%n%s").splitlines()
        when = promoted.predicate.time.replace("Z", "+00:00")
        assert author == [
            f"ci <ci@registry.invalid> ci <ci@registry.invalid> {when} {when}",
            f"promote: retail-chat v{version} to dev (record {promoted.sequence})",
        ]
    ops.approve(reg, "retail-chat", 3, "staging", keys["alice"], c)
    assert_committed(reg)
    ops.rollback(reg, "retail-chat", "dev", 3, "back to v3", keys["ci"], c)
    assert_committed(reg)
    assert not any("/.incoming" in p for p in head_files(reg))

    # A config change that brings a trust policy and rotates the TUF roots (carol replaces
    # ci as releaser): propose and sign write under config/proposed/, apply moves and
    # deletes there and re-signs every environment's metadata.
    folder = world.tmp / "trust-v2"
    folder.mkdir()
    for name in ("ci.pub", "bob.pub"):
        shutil.copy(world.tmp / name, folder / name)
    (folder / "trust.yaml").write_text(NEW_TRUST)
    v2 = world.tmp / "v2.yaml"
    v2.write_text(
        config_yaml(
            world.tmp,
            version=2,
            admin_threshold=2,
            soak=0,
            releasers=("carol",),
            trust_policy="trust/v2/trust.yaml",
        )
    )
    configchange.propose(reg, v2, keys["admin"], c, folder / "trust.yaml")
    assert_committed(reg)
    proposed = {p for p in head_files(reg) if p.startswith("config/proposed/")}
    assert "config/proposed/v000002.yaml" in proposed
    assert any(p.endswith("/trust/v2/trust.yaml") for p in proposed)
    assert any(p.endswith("2.root.json") for p in proposed)
    configchange.sign_proposal(reg, keys["admin2"], c)
    assert_committed(reg)
    configchange.apply(reg, keys["admin"], c, keys["carol"])
    assert_committed(reg)
    files = head_files(reg)
    assert not any(p.startswith("config/proposed/") for p in files)
    assert {"config/v000002.yaml", "trust/v2/trust.yaml", "trust/v2/bob.pub"} <= files
    assert {"config/v000002.sig/admin.json", "config/v000002.sig/admin2.json"} <= files
    assert "tuf/prod/metadata/2.root.json" in files
    assert verify_registry(reg)["config_version"] == 2


def test_an_interrupted_event_is_undone_by_the_next_command(world: World) -> None:
    keys, reg, c = world.keys, world.reg, world.clock
    ops.publish(reg, signed_bundle(world.tmp, 3, keys["ci"]), keys["ci"], c)
    # An event that wrote through the Store and died before its commit.
    store = Store(reg)
    store.write("records/000000000099.json", b"half an event")
    store.write("live/dev.json", b"{}")
    assert not (reg / ".git" / CLEAN_STAMP).exists()
    with pytest.raises(VerificationError) as info:
        verify_registry(reg)
    assert info.value.reason == "uncommitted-event"
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], c)
    assert_committed(reg)
    assert not (reg / "records" / "000000000099.json").exists()
    assert verify_registry(reg)["live"]["dev"]["retail-chat"]["version"] == 3


def test_files_changed_by_hand_are_never_committed_by_an_event(world: World) -> None:
    keys, reg, c = world.keys, world.reg, world.clock
    ops.publish(reg, signed_bundle(world.tmp, 3, keys["ci"]), keys["ci"], c)
    (reg / "notes.txt").write_text("a stray file")
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], c)
    # The stamp named HEAD, so the promote did not scan the tree: the stray file stays, and
    # is in no commit.
    assert "notes.txt" not in head_files(reg)
    assert (reg / "notes.txt").is_file()
    # verify reports it, and the next command undoes it (as verify's message says).
    with pytest.raises(VerificationError) as info:
        verify_registry(reg)
    assert info.value.reason == "uncommitted-event"
    ops.approve(reg, "retail-chat", 3, "staging", keys["alice"], c)
    assert not (reg / "notes.txt").exists()
    assert_committed(reg)


def test_a_head_moved_by_hand_makes_the_next_command_check_the_whole_tree(world: World) -> None:
    keys, reg, c = world.keys, world.reg, world.clock
    ops.publish(reg, signed_bundle(world.tmp, 3, keys["ci"]), keys["ci"], c)
    (reg / "notes.txt").write_text("a stray file")
    git(reg, "-c", "user.name=h", "-c", "user.email=h@x.invalid", "commit", "-q",
        "--allow-empty", "-m", "by hand")  # fmt: skip
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], c)
    assert not (reg / "notes.txt").exists()
    assert_committed(reg)
