"""A registry's tree is only as trustworthy as whoever can push to it: a file replaced by a
symlink to /dev/zero, or by a file over every cap, must make `registry verify` name it (exit 5,
with its reason) and a gateway's `resolve` refuse it, in bounded time and memory, never hang
or read gigabytes (issue 8's rule for every reader, issue 9's tamper cases)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from nexusctl.registry import ops
from tests.cli._bounded import Outcome, assert_bounded, run_bounded
from tests.registry_kit import World, live_in_prod, signed_bundle


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    world = live_in_prod(tmp_path_factory.mktemp("hostile-tree") / "w")
    # v4 waits, published only: the promote tests below move it to dev on a tampered clone.
    ops.publish(world.reg, signed_bundle(world.tmp, 4, world.keys["ci"]), world.keys["ci"],
                world.clock)  # fmt: skip
    return world


def tampered(world: World, tmp_path: Path, rel: str, how: str) -> Path:
    """A clone of the registry whose file ``rel`` is replaced (``how``) and committed."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(world.reg), str(clone)], check=True)
    target = clone / rel
    target.unlink()
    if how == "dev-zero":
        target.symlink_to("/dev/zero")
    elif how == "deep":  # within every cap, but nested past any parser's recursion limit
        target.write_bytes(b"[" * 600_000)
    else:  # 64 MiB (sparse): over every cap the registry reads with (1-16 MiB)
        with target.open("wb") as handle:
            handle.truncate(64 << 20)
    git = ["git", "-C", str(clone), "-c", "user.name=M", "-c", "user.email=m@x.invalid"]
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "tamper"], check=True)
    return clone


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("records/000000000003.json", "malformed-record"),
        ("tuf/prod/metadata/timestamp.json", "tuf-mismatch"),
        ("tuf/prod/metadata/1.root.json", "tuf-mismatch"),
        ("live/prod.json", "live-tampered"),
    ],
)
@pytest.mark.parametrize("how", ["dev-zero", "huge", "deep"])
def test_verify_names_the_file_in_bounded_time_and_memory(
    world: World, tmp_path: Path, rel: str, reason: str, how: str
) -> None:
    clone = tampered(world, tmp_path, rel, how)
    outcome = run_bounded("registry", "verify", "-r", str(clone), "--format", "json")
    assert outcome.code == 5, outcome.stderr
    if how == "deep" and rel.startswith("records/"):
        reason = "malformed-signature"  # read within its cap; its Sigstore bundle is refused
    assert json.loads(outcome.stdout)["reason"] == reason
    assert_bounded(outcome)


@pytest.mark.parametrize("how", ["dev-zero", "huge", "deep"])
def test_status_and_history_refuse_a_record_that_is_not_a_record(
    world: World, tmp_path: Path, how: str
) -> None:
    clone = tampered(world, tmp_path, "records/000000000004.json", how)
    at = world.clock.now().isoformat().replace("+00:00", "Z")
    for command in (["history"], ["status"], ["history", "--env", "dev", "--at", at]):
        outcome = run_bounded("registry", *command, "-r", str(clone))
        assert outcome.code == 5, outcome.stderr
        assert "000000000004.json" in outcome.stderr
        assert_bounded(outcome)


@pytest.mark.parametrize("how", ["dev-zero", "huge"])
def test_a_gateway_resolving_from_a_tampered_folder_refuses_it(
    world: World, tmp_path: Path, how: str
) -> None:
    clone = tampered(world, tmp_path, "tuf/prod/metadata/timestamp.json", how)
    state = tmp_path / "gateway"
    outcome = run_bounded(
        "registry", "resolve", "prod", "retail-chat", "--from", str(clone), "--state", str(state)
    )
    assert outcome.code in (4, 5), outcome.stderr  # unreachable, or refused by python-tuf
    refusal = {
        "dev-zero": "timestamp.json: Too many levels of symbolic links",  # not followed
        "huge": "maximum allowed length",  # python-tuf stops the stream at its length limit
    }
    assert refusal[how] in outcome.stderr
    assert_bounded(outcome)
    assert os.path.isdir(state)


@pytest.mark.parametrize("how", ["dev-zero", "huge", "deep"])
def test_promote_refuses_tampered_tuf_metadata_and_writes_nothing(
    world: World, tmp_path: Path, how: str
) -> None:
    """Promote reads the environment's current timestamp to number the next: a replaced file
    is refused (exit 5, named), in bounded time, and the clone is left as it was."""
    clone = tampered(world, tmp_path, "tuf/dev/metadata/timestamp.json", how)
    # A clone of its own (no remote to push the tamper commit to): only the promote is tested.
    subprocess.run(["git", "-C", str(clone), "remote", "remove", "origin"], check=True)
    head = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout
    outcome = run_bounded(
        "registry", "promote", "retail-chat@4", "--to", "dev", "--key", str(world.keys["ci"]),
        "-r", str(clone),
    )  # fmt: skip
    assert outcome.code == 5, outcome.stderr
    assert "tuf/dev/metadata/timestamp.json" in outcome.stderr, outcome.stderr
    assert_bounded(outcome)
    after = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    assert after == ""
    assert (
        subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout
        == head
    )


@pytest.mark.parametrize("kind", ["loop", "dev-null", "fifo", "folder", "dangling"])
def test_verify_state_that_is_not_a_state_file_is_refused(
    world: World, tmp_path: Path, kind: str
) -> None:
    """``verify --state`` reads, then replaces, a file the consumer keeps: whatever sits there
    instead is refused (exit 3) before anything is written, never followed or waited on."""
    state = tmp_path / "state.json"
    if kind == "loop":
        state.symlink_to(state)
    elif kind == "dev-null":
        state.symlink_to("/dev/null")
    elif kind == "fifo":
        os.mkfifo(state)
    elif kind == "folder":
        state.mkdir()
    else:
        state.symlink_to(tmp_path / "nowhere" / "state.json")
    outcome = run_bounded("registry", "verify", "-r", str(world.reg), "--state", str(state))
    assert outcome.code == 3, outcome.stderr
    assert str(state) in outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert_bounded(outcome)
    assert not (tmp_path / "nowhere").exists()


def test_verify_state_is_replaced_atomically_and_kept_across_runs(
    world: World, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = run_bounded("registry", "verify", "-r", str(world.reg), "--state", str(state))
    assert first.code == 0, first.stderr
    kept = json.loads(state.read_text())
    assert kept["records"] >= 1
    assert kept["head"].startswith("sha256:")
    again = run_bounded("registry", "verify", "-r", str(world.reg), "--state", str(state))
    assert again.code == 0, again.stderr
    assert json.loads(state.read_text()) == kept
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


@pytest.mark.parametrize("kind", ["file", "loop", "dev-zero", "fifo"])
def test_resolve_refuses_a_state_that_is_not_a_folder(
    world: World, tmp_path: Path, kind: str
) -> None:
    state = tmp_path / "state"
    if kind == "file":
        state.write_text("{}")
    elif kind == "loop":
        state.symlink_to(state)
    elif kind == "dev-zero":
        state.symlink_to("/dev/zero")
    else:
        os.mkfifo(state)
    outcome = _resolve(world.reg, state)
    assert outcome.code == 3, outcome.stderr
    assert "--state must be a folder" in outcome.stderr
    assert_bounded(outcome)


def test_resolve_refuses_a_source_that_loops_and_a_broken_state_tree(
    world: World, tmp_path: Path
) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    outcome = _resolve(loop, tmp_path / "s")
    assert outcome.code == 3, outcome.stderr
    assert "not a registry folder" in outcome.stderr
    state = tmp_path / "state"
    (state / "prod").mkdir(parents=True)
    (state / "prod" / "metadata").write_text("not a folder")
    outcome = _resolve(world.reg, state)
    assert outcome.code == 4, outcome.stderr
    assert "cannot create the client's state folders" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def _resolve(source: Path, state: Path) -> Outcome:
    return run_bounded(
        "registry", "resolve", "prod", "retail-chat", "--from", str(source), "--state", str(state)
    )
