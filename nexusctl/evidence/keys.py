"""Note key files: generate a C2SP Ed25519 signer key (mode 0600) and read keys back.

The signer key file holds ``PRIVATE+KEY+<name>+<id>+<base64>``; the verifier key beside it
(``<file>.vkey``) holds ``<name>+<id>+<base64>`` and is what auditors are given.
"""

from __future__ import annotations

import os
from pathlib import Path

from nexusctl.errors import EnvironmentError_, InputError
from nexusctl.evidence.note import NoteSigner, NoteVerifier
from nexusctl.files import read_bounded

_KEY_CAP = 4096


def generate_note_key(path: Path, name: str) -> Path:
    """Write a new signer key to ``path`` (0600, never overwriting) and its ``.vkey``.

    Returns:
        The path of the verifier key.

    Raises:
        InputError: a file exists already, or the name is not a valid key name.
        EnvironmentError_: the files could not be written.
    """
    signer = NoteSigner.generate(name)
    public = path.with_name(path.name + ".vkey")
    for target, text, mode in (
        (path, signer.text(), 0o600),
        (public, signer.verifier.text(), 0o644),
    ):
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            raise InputError(f"{target} already exists; refusing to overwrite a key") from None
        except OSError as exc:
            raise EnvironmentError_(f"cannot create {target}: {exc.strerror}") from exc
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
    return public


def load_signer(path: Path) -> NoteSigner:
    """Read a signer key file.

    Raises:
        InputError: unreadable or not a C2SP Ed25519 signer key.
    """
    text = read_bounded(path, _KEY_CAP, what="signer key").decode("utf-8", "replace")
    try:
        return NoteSigner.parse(text)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def load_verifier(path: Path) -> NoteVerifier:
    """Read a verifier key file (a signer key file is accepted: its public half is used).

    Raises:
        InputError: unreadable or not a C2SP Ed25519 key.
    """
    text = read_bounded(path, _KEY_CAP, what="verifier key").decode("utf-8", "replace").strip()
    if text.startswith("PRIVATE+KEY+"):
        return load_signer(path).verifier
    try:
        return NoteVerifier.parse(text)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
