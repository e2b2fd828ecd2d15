"""SSH-signed commits: every commit recording an event under a config that names
``commitSigners`` must carry a good SSH signature by one of them.

Signing is git's own (``gpg.format=ssh``, ``user.signingkey``, ``commit.gpgsign`` in the clone's
or the user's git config; ``registry`` commands run ``git commit``, which honours them).
Verification is git's too: ``git log`` with ``gpg.ssh.allowedSignersFile`` set to a file
written from the config in effect (git runs ``ssh-keygen -Y verify`` per signed commit), and
a record counts as signed when the commit that added its file shows ``%G?`` = ``G`` (a good
signature by an allowed signer). A record is judged by the config in effect *before* it, so
the init record and the config record that first names signers are not required to be signed.
Bulk sessions (``git fast-import``) cannot sign commits.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from nexusctl.errors import EnvironmentError_, VerificationError
from nexusctl.registry._store import RECORDS
from nexusctl.registry.config import LoadedConfig


def check_commit_signatures(root: Path, governed: dict[str, tuple[int, LoadedConfig]]) -> None:
    """Check that each record file in ``governed`` was added by a commit signed as required.

    ``governed`` maps a record file name to (sequence, config in effect before it); records
    whose config names no commit signers are not checked.

    Raises:
        VerificationError: ``commit-unsigned``, naming the first such record.
        EnvironmentError_: git could not be run.
    """
    groups: dict[str, tuple[LoadedConfig, list[str]]] = {}
    for name, (_, config) in governed.items():
        if config.config.spec.commit_signers:
            groups.setdefault(config.digest, (config, []))[1].append(name)
    failures: list[tuple[int, str]] = []
    for config, names in groups.values():
        status = _added_by(root, config)
        for name in names:
            commit, verdict = status.get(name, ("", "N"))
            if verdict != "G":
                shown = f"commit {commit[:12]}" if commit else "no commit"
                failures.append((governed[name][0], f"{name}: {shown} ({verdict})"))
    if failures:
        sequence, detail = min(failures)
        raise VerificationError(
            f"record {sequence} ({detail}): not signed by an allowed commit signer",
            reason="commit-unsigned",
            hint="sign commits with git's gpg.format=ssh and a key listed in commitSigners",
        )


def _added_by(root: Path, config: LoadedConfig) -> dict[str, tuple[str, str]]:
    """Return record file name -> (commit that added it, its %G? verdict under ``config``)."""
    lines = [s.allowed_signers_line() for s in config.config.spec.commit_signers]
    with tempfile.TemporaryDirectory(prefix="nexusctl-signers-") as folder:
        allowed = Path(folder) / "allowed_signers"
        allowed.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [
            "git", "-C", str(root), "-c", f"gpg.ssh.allowedSignersFile={allowed}",
            "log", "--format=%x01%H %G?", "--diff-filter=A", "--name-only", "--", f"{RECORDS}/",
        ]  # fmt: skip
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            raise EnvironmentError_(f"git log failed: {exc}") from None
    added: dict[str, tuple[str, str]] = {}
    for block in out.split("\x01")[1:]:
        head, *files = block.strip().splitlines()
        commit, _, verdict = head.partition(" ")
        for rel in files:
            if rel.strip():
                added[Path(rel.strip()).name] = (commit, verdict)
    return added
