"""SSH-signed registry commits (git gpg.format=ssh), verified against the config's signers
with git's allowed-signers mechanism (ssh-keygen -Y verify under git log)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import VerificationError
from nexusctl.registry import ops
from nexusctl.registry.verify import verify_registry
from tests.registry_kit import new_world, signed_bundle

pytestmark = [
    pytest.mark.e2e,
]


def ssh_key(folder: Path, name: str) -> tuple[Path, str]:
    path = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
                   check=True)  # fmt: skip
    kind, body, *_ = (folder / f"{name}.pub").read_text().split()
    return path, f"{kind} {body}"


def sign_with(reg: Path, key: Path | None) -> None:
    """Configure the clone's own git to sign its commits with ``key`` (None: stop signing)."""

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(reg), "config", *args], check=True)

    if key is None:
        git("commit.gpgsign", "false")
        return
    git("gpg.format", "ssh")
    git("user.signingkey", str(key))
    git("commit.gpgsign", "true")


def test_commits_must_be_signed_by_a_listed_ssh_key(tmp_path: Path) -> None:
    release, public = ssh_key(tmp_path, "release-ssh")
    stranger, _ = ssh_key(tmp_path, "stranger-ssh")
    signers = f"  commitSigners: [{{principal: release@nebula.example, key: {public}}}]\n"
    world = new_world(tmp_path / "w", commit_signers=signers)
    keys, c, reg = world.keys, world.clock, world.reg
    sign_with(reg, release)
    ops.publish(reg, signed_bundle(world.tmp, 3, keys["ci"]), keys["ci"], c)
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], c)
    shown = subprocess.run(["git", "-C", str(reg), "cat-file", "commit", "HEAD"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "-----BEGIN SSH SIGNATURE-----" in shown  # git signed it, as configured
    assert verify_registry(reg)["records"] == 3  # init (under no config yet) is exempt

    sign_with(reg, stranger)  # a key the config does not list
    ops.approve(reg, "retail-chat", 3, "staging", keys["alice"], c)
    with pytest.raises(VerificationError) as info:
        verify_registry(reg)
    assert info.value.reason == "commit-unsigned"
    assert "record 4 " in str(info.value)


def test_an_unsigned_commit_is_named(tmp_path: Path) -> None:
    _, public = ssh_key(tmp_path, "release-ssh")
    signers = f"  commitSigners: [{{principal: release@nebula.example, key: {public}}}]\n"
    world = new_world(tmp_path / "w", commit_signers=signers)
    sign_with(world.reg, None)
    ops.publish(world.reg, signed_bundle(world.tmp, 3, world.keys["ci"]), world.keys["ci"],
                world.clock)  # fmt: skip
    with pytest.raises(VerificationError) as info:
        verify_registry(world.reg)
    assert info.value.reason == "commit-unsigned"
    assert "record 2 (000000000002.json: commit" in str(info.value)
    assert "(N)" in str(info.value)
