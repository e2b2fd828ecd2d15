"""C2SP signed notes (Ed25519) and the tlog-checkpoint body they carry.

A signed note (c2sp.org/signed-note) is UTF-8 text ending in a newline, one blank line, then
signature lines ``— <key name> <base64(key id[4] || signature)>``. The key id is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` for Ed25519 (type byte 0x01). Keys travel
as text, the formats golang.org/x/mod/sumdb/note and Tessera use:

    verifier key  <name>+<8 hex key id>+base64(0x01 || 32-byte public key)
    signer key    PRIVATE+KEY+<name>+<8 hex key id>+base64(0x01 || 32-byte seed)

Verification (``open_note``) checks, in order: the note's shape (UTF-8, no control characters
but newline, a final signature block); then every signature line whose (name, key id) a given
verifier knows. Unknown signers are ignored, as the spec requires; no verified known signature,
or any failing known one, is a ``VerificationError``. Only then is the text returned.

A checkpoint (c2sp.org/tlog-checkpoint) is a note whose text is ``<origin>\\n<size>\\n<base64
root>\\n``; :func:`parse_checkpoint` reads it from verified text only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexusctl.errors import InputError, VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_ED25519 = 0x01
_DASH = "\u2014 "
#: Verifiers must accept at least 16 signatures; a note with far more is hostile.
MAX_SIGNATURES = 100


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise InputError(f"note key name {name!r} must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte C2SP key id of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + public_key).digest()[:4]


def _decode_key(text: str, what: str) -> tuple[str, bytes, bytes]:
    """Split ``name+hexid+base64`` into (name, key id, key bytes) and check the id's shape."""
    name, sep1, rest = text.partition("+")
    hex_id, sep2, encoded = rest.partition("+")
    if not (sep1 and sep2):
        raise InputError(f"{what} is not <name>+<key id>+<base64 key>")
    try:
        raw = base64.b64decode(encoded, validate=True)
        id_bytes = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} has a malformed key id or base64 key") from None
    if len(id_bytes) != 4 or len(raw) != 33 or raw[0] != _ED25519:
        raise InputError(f"{what} is not an Ed25519 note key (type 0x01, 32 bytes)")
    return _check_name(name), id_bytes, raw[1:]


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 verifier key of a signed note."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """Parse a verifier key (``name+id+base64``).

        Raises:
            InputError: malformed, not Ed25519, or the key id does not match the key.
        """
        name, id_bytes, public = _decode_key(text.strip(), "verifier key")
        if key_id(name, public) != id_bytes:
            raise InputError(f"verifier key for {name!r}: key id does not match the key")
        return cls(name, id_bytes, public)

    def text(self) -> str:
        """Return the verifier key in its text form."""
        encoded = base64.b64encode(bytes([_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``message``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 signer key of a signed note (the 32-byte seed, never printed)."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """Return a new random signer key named ``name``."""
        import os

        return cls(_check_name(name), os.urandom(32))

    @classmethod
    def parse(cls, text: str) -> NoteSigner:
        """Parse a signer key (``PRIVATE+KEY+name+id+base64``).

        Raises:
            InputError: malformed, not Ed25519, or the key id does not match the key.
        """
        stripped = text.strip()
        if not stripped.startswith("PRIVATE+KEY+"):
            raise InputError("signer key does not start with PRIVATE+KEY+")
        name, id_bytes, seed = _decode_key(stripped.removeprefix("PRIVATE+KEY+"), "signer key")
        signer = cls(name, seed)
        if signer.verifier.key_id != id_bytes:
            raise InputError(f"signer key for {name!r}: key id does not match the key")
        return signer

    def _private(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> NoteVerifier:
        """The matching verifier key."""
        from cryptography.hazmat.primitives import serialization

        public = (
            self._private()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return NoteVerifier(self.name, key_id(self.name, public), public)

    def text(self) -> str:
        """Return the signer key in its text form (a secret: write it mode 0600)."""
        encoded = base64.b64encode(bytes([_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def sign(self, text: str) -> str:
        """Return ``text`` as a signed note carrying this key's signature.

        Raises:
            InputError: the text is empty, does not end in a newline, or has control characters.
        """
        _check_text(text)
        signature = self._private().sign(text.encode())
        line = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{_DASH}{self.name} {line}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise InputError("note text must end in a newline and hold no control characters")


def _malformed(message: str) -> VerificationError:
    return VerificationError(f"signed note is malformed: {message}", reason="note-malformed")


def open_note(note: str | bytes, verifiers: list[NoteVerifier]) -> str:
    """Verify a signed note against ``verifiers`` and return its text.

    Raises:
        VerificationError: ``note-malformed``, ``note-unknown-key`` (no signature by a known
            key) or ``note-signature-invalid`` (a known key's signature does not verify).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("not UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise _malformed("control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise _malformed("no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = 0
    for line in lines:
        if not line.startswith(_DASH):
            raise _malformed(f"signature line {line[:40]!r} does not start with an em dash")
        name, _, encoded = line[len(_DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise _malformed(f"signature by {name!r} is not base64") from None
        if not name or len(raw) < 5:
            raise _malformed("signature line too short")
        verifier = known.get((name, raw[:4]))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), raw[4:]):
            raise VerificationError(
                f"signature by {name!r} (key {raw[:4].hex()}) does not verify",
                reason="note-signature-invalid",
            )
        verified += 1
    if not verified:
        names = ", ".join(sorted(f"{v.name}+{v.key_id.hex()}" for v in verifiers))
        raise VerificationError(
            f"no signature by a trusted key ({names})", reason="note-unknown-key"
        )
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint: the log's origin, tree size and root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """Return the checkpoint's note text."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse verified checkpoint text (origin, decimal size, base64 root; extensions ignored).

    Raises:
        VerificationError: reason ``checkpoint-malformed``.
    """
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:3]):
        raise VerificationError(
            "checkpoint needs origin, size and root lines", reason="checkpoint-malformed"
        )
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise VerificationError(
            f"checkpoint size {size_text!r} is not a decimal", reason="checkpoint-malformed"
        )
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        root = b""
    if len(root) != 32:
        raise VerificationError(
            "checkpoint root is not a base64 32-byte hash", reason="checkpoint-malformed"
        )
    return Checkpoint(origin, int(size_text), root)
