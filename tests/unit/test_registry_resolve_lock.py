"""`registry resolve` from a clone reads between events only: it holds the clone's lock shared
(read-only), waits for a writer in progress (bounded: exit 7), refuses a tree an interrupted
event left (exit 5, `uncommitted-event`) without touching the gateway's state, and still
resolves from a fresh `git clone` (no lock file, no clean stamp) or a clone moved by git."""

from __future__ import annotations

import datetime as dt
import fcntl
import inspect
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from nexusctl.errors import ConflictError, VerificationError
from nexusctl.registry import ops
from nexusctl.registry._gitrun import read_head
from nexusctl.registry._store import CLEAN_STAMP, LOCK_NAME, Store
from nexusctl.registry.resolve import DEFAULT_WAIT_SECONDS, resolve
from tests.registry_kit import World, live_in_prod, signed_bundle

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = live_in_prod(tmp_path / "w")
    return world


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def cli_resolve(reg: Path, state: Path, *extra: str) -> list[str]:
    return [NEXUSCTL, "registry", "resolve", "prod", "retail-chat", "--from", str(reg),
            "--state", str(state), *extra]  # fmt: skip


def holds_fd_on(pid: int, path: Path) -> bool:
    """True once process ``pid`` has ``path`` open (it reached the lock and is polling it)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except FileNotFoundError:
            continue
    return False


def test_waits_for_a_writer_then_resolves(world: World, tmp_path: Path) -> None:
    lock = world.reg / ".git" / LOCK_NAME
    state = tmp_path / "gateway"
    with open(lock, "a+b") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)  # what Store.locked holds during an event
        proc = subprocess.Popen(
            cli_resolve(world.reg, state, "--wait", "600"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not holds_fd_on(proc.pid, lock):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "resolve never opened the lock"
                time.sleep(0.02)
            time.sleep(0.5)  # it would have read (and made its state) by now if it did not wait
            assert proc.poll() is None
            assert not state.exists()
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    path, digest = out.split()
    assert digest.startswith("sha256:")
    assert (Path(path) / "manifest.json").is_file()


def test_gives_up_after_the_wait_with_exit_7(world: World, tmp_path: Path) -> None:
    state = tmp_path / "gateway"
    with open(world.reg / ".git" / LOCK_NAME, "a+b") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ConflictError, match=r"held the clone's lock for 0\.2 s"):
            resolve(str(world.reg), "prod", "retail-chat", state, wait_seconds=0.2)
        proc = subprocess.run(
            cli_resolve(world.reg, state, "--wait", "0.1"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert proc.returncode == 7
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert "held the clone's lock for 0.1 s" in proc.stderr.splitlines()[0]
    assert not state.exists()  # refused before the client made (or read) its state
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 3


def test_refuses_an_interrupted_events_files_without_touching_the_state(
    world: World, tmp_path: Path
) -> None:
    state = tmp_path / "gateway"
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 3
    before = snapshot(state)
    # What a writer killed mid-event leaves: no clean stamp, a TUF file no commit has.
    (world.reg / ".git" / CLEAN_STAMP).unlink()
    metadata = world.reg / "tuf" / "prod" / "metadata"
    (metadata / "9.root.json").write_bytes((metadata / "1.root.json").read_bytes())
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", state)
    assert info.value.reason == "uncommitted-event"
    assert snapshot(state) == before
    proc = subprocess.run(cli_resolve(world.reg, state, "--format", "json"),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 5
    assert '"reason": "uncommitted-event"' in proc.stdout
    assert "interrupted" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Another environment's folder is untouched by it: that one is read.
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "staging", "code-assistant", tmp_path / "other")
    assert info.value.reason == "not-live"
    # The next registry command undoes the half-done event; the gateway resolves again.
    ops.publish(world.reg, signed_bundle(world.tmp, 4, world.keys["ci"]), world.keys["ci"],
                world.clock)  # fmt: skip
    assert not (metadata / "9.root.json").exists()
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 3


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, or a symlink's target (python-tuf's root.json)."""
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = os.readlink(path)
        elif path.is_file():
            out[rel] = path.read_bytes()
        else:
            out[rel] = "dir"
    return out


def test_a_fresh_git_clone_resolves(world: World, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(world.reg), str(clone)], check=True)
    assert not (clone / ".git" / LOCK_NAME).exists()
    assert not (clone / ".git" / CLEAN_STAMP).exists()
    assert resolve(str(clone), "prod", "retail-chat", tmp_path / "gateway").version == 3
    assert not (clone / ".git" / LOCK_NAME).exists()  # a reader creates nothing in the clone


def test_a_fifo_planted_as_the_lock_file_is_not_waited_on(world: World, tmp_path: Path) -> None:
    lock = world.reg / ".git" / LOCK_NAME
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)
    try:
        done = subprocess.run(
            cli_resolve(world.reg, tmp_path / "gateway"), capture_output=True, text=True, timeout=60
        )
    finally:
        lock.unlink()
    assert done.returncode == 0, done.stderr
    assert "sha256:" in done.stdout


def test_a_clone_moved_by_git_resolves_unless_its_tuf_folder_is_dirty(
    world: World, tmp_path: Path
) -> None:
    # HEAD moves without a registry command (a commit, a `git pull`): the stamp is stale.
    git(world.reg, "-c", "user.name=t", "-c", "user.email=t@t.invalid",
        "commit", "--quiet", "--allow-empty", "-m", "moved by hand")  # fmt: skip
    assert (world.reg / ".git" / CLEAN_STAMP).read_text().strip() != git(
        world.reg, "rev-parse", "HEAD"
    )
    state = tmp_path / "gateway"
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 3
    stray = world.reg / "tuf" / "prod" / "targets" / "stray.tar"
    stray.write_bytes(b"not committed")
    with pytest.raises(VerificationError) as info:
        resolve(str(world.reg), "prod", "retail-chat", state)
    assert info.value.reason == "uncommitted-event"
    stray.unlink()
    assert git(world.reg, "status", "--porcelain") == ""
    assert resolve(str(world.reg), "prod", "retail-chat", state).version == 3


def test_the_lock_is_held_shared_and_opened_read_only(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While python-tuf reads the clone, this process holds a READ flock on the lock file
    through a descriptor opened O_RDONLY (a gateway may have no write access to the clone);
    checked in /proc, so it holds when the tests run as root, where chmod proves nothing; and
    nothing in the clone is written (what a read-only clone would refuse)."""
    lock = world.reg / ".git" / LOCK_NAME
    inode = os.stat(lock).st_ino
    seen: list[tuple[int, list[str]]] = []
    refresh = Updater.refresh

    def observed(self: Updater) -> None:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != str(lock):
                    continue
            except FileNotFoundError:
                continue
            flags = Path(f"/proc/self/fdinfo/{fd}").read_text().split("flags:")[1].split()[0]
            locks = [
                line.split()[3]
                for line in Path("/proc/locks").read_text().splitlines()
                if " FLOCK " in line and line.split()[5].endswith(f":{inode}")
            ]
            seen.append((int(flags, 8) & os.O_ACCMODE, locks))
        refresh(self)

    monkeypatch.setattr(Updater, "refresh", observed)
    before = _tree(world.reg)
    assert resolve(str(world.reg), "prod", "retail-chat", tmp_path / "gateway").version == 3
    assert seen == [(os.O_RDONLY, ["READ"])]
    assert _tree(world.reg) == before  # a gateway writes nothing in the clone, .git included
    with open(lock, "a+b") as writer:  # released afterwards: a writer gets it at once
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_head_is_read_from_gits_files(world: World, tmp_path: Path) -> None:
    git_dir = world.reg / ".git"
    head = git(world.reg, "rev-parse", "HEAD")
    assert (git_dir / "refs" / "heads" / "main").is_file()
    assert read_head(git_dir) == head
    git(world.reg, "pack-refs", "--all")  # the ref moves into packed-refs
    assert not (git_dir / "refs" / "heads" / "main").exists()
    assert read_head(git_dir) == head
    git(world.reg, "checkout", "--quiet", "--detach")
    assert read_head(git_dir) == head
    subprocess.run(["git", "init", "--quiet", str(tmp_path / "empty")], check=True)
    assert read_head(tmp_path / "empty" / ".git") is None  # no commit yet


def test_the_cli_waits_as_long_as_the_library_by_default() -> None:
    from nexusctl.cli.registry_resolve_cmds import resolve as command

    assert inspect.signature(command).parameters["wait"].default == DEFAULT_WAIT_SECONDS


def test_registry_pull_stamps_the_new_head_so_readers_keep_the_fast_path(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(world.reg), str(remote)], check=True)
    git(world.reg, "remote", "add", "origin", str(remote))
    git(world.reg, "fetch", "--quiet", "origin")
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(other)], check=True)
    world.clock.advance(dt.timedelta(minutes=1))
    ops.publish(other, signed_bundle(world.tmp, 4, world.keys["ci"]), world.keys["ci"],
                world.clock)  # fmt: skip
    head = ops.pull(world.reg)
    assert head == git(other, "rev-parse", "HEAD") == git(world.reg, "rev-parse", "HEAD")
    assert (world.reg / ".git" / CLEAN_STAMP).read_text().strip() == head

    def no_scan(self: Store, rel: str) -> bool:
        raise AssertionError("the stamp names HEAD: no git status needed")

    monkeypatch.setattr(Store, "uncommitted", no_scan)
    assert resolve(str(world.reg), "prod", "retail-chat", tmp_path / "gateway").version == 3


def test_registry_pull_in_a_fresh_clone_stamps_it_when_clean(world: World, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(world.reg), str(remote)], check=True)
    gateway_clone = tmp_path / "gateway-clone"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(gateway_clone)], check=True)
    stray = gateway_clone / "tuf" / "prod" / "stray.json"
    stray.write_text("{}")  # not clean: the pull must not vouch for it
    ops.pull(gateway_clone)
    assert not (gateway_clone / ".git" / CLEAN_STAMP).exists()
    stray.unlink()
    head = ops.pull(gateway_clone)
    assert (gateway_clone / ".git" / CLEAN_STAMP).read_text().strip() == head


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (``.git`` too) with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
        if not p.is_dir()
    }
