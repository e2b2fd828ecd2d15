"""Signing keys: generate, load, and name them (the ``publicKey.hint`` nexusctl writes).

Keys are ECDSA (P-256 by default, P-384 accepted) because that is what every verifier we
interoperate with accepts: OpenSSF model-signing supports EC keys only, sigstore-js and
Sigstore's ``PublicKeyDetails`` name ``PKIX_ECDSA_P256_SHA_256``.

A private key may be encrypted with a passphrase: PKCS#8 ``ENCRYPTED PRIVATE KEY`` PEM (RFC
5958 §3), written with cryptography's ``BestAvailableEncryption`` (PBES2, PBKDF2-HMAC-SHA256
and AES-256-CBC in the versions we pin). The core never asks for a passphrase itself: the CLI
registers a ``PassphraseSource`` (an environment variable, or a prompt on a terminal) and
``load_private_key`` calls it only when the file is encrypted.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import EnvironmentError_, InputError, UsageError
from nexusctl.files import describe_size, open_regular, read_bounded

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

MAX_KEY_BYTES = 64 * 1024
#: The PEM label of an encrypted PKCS#8 key (RFC 7468 §11).
ENCRYPTED_PEM_LABEL = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"

#: Given the key file, return its passphrase (UTF-8 bytes); raise a NexusError if none can be had.
PassphraseSource = Callable[[Path], bytes]

_passphrase_source: list[PassphraseSource] = []


def set_passphrase_source(source: PassphraseSource | None) -> None:
    """Register where passphrases of encrypted keys come from (``None``: nowhere).

    The CLI registers one for the whole process; without one, an encrypted key is refused
    with a message saying how to supply its passphrase.
    """
    _passphrase_source.clear()
    if source is not None:
        _passphrase_source.append(source)


def generate_key_pair(private_path: Path, passphrase: bytes | None = None) -> Path:
    """Write a new P-256 private key (PKCS#8 PEM, mode 0600) and its public key beside it.

    The public key goes to ``private_path`` with the suffix ``.pub``. Neither file is ever
    overwritten; the private key never exists with wider permissions, even for a moment.
    With ``passphrase``, the private key is encrypted (``ENCRYPTED PRIVATE KEY`` PEM).

    Returns:
        The path of the public key.

    Raises:
        InputError: either file already exists, or the two paths would be the same.
        UsageError: an empty passphrase.
        EnvironmentError_: the files could not be written.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if passphrase is not None:
        if not passphrase:
            raise UsageError("the passphrase is empty; choose one, or do not encrypt the key")
        encryption = serialization.BestAvailableEncryption(passphrase)
    public_path = private_path.with_suffix(".pub")
    if public_path == private_path:
        raise InputError(f"{private_path}: the private key file must not end in .pub")
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise InputError(f"{path} already exists; refusing to overwrite a key")
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption,
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_exclusive(private_path, private_pem, 0o600)
    try:
        _write_exclusive(public_path, public_pem, 0o644)
    except (InputError, EnvironmentError_):
        private_path.unlink(missing_ok=True)
        raise
    return public_path


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start, complete or not at all, never replacing one.

    The bytes go to a temporary name opened with O_EXCL and the final mode, then are hard-linked
    into place (link() fails if the name exists), so no reader ever sees a partial key.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise InputError(f"{tmp} exists; remove the leftover temporary file") from None
    except OSError as exc:
        raise EnvironmentError_(f"cannot create {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise InputError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise EnvironmentError_(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def load_private_key(path: Path, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """Load a PEM EC private key from a regular file only its owner can access.

    Like ssh, a key file readable or writable by group or others is refused, not used: such a
    key may already be someone else's too (``chmod 600`` it, or make a new one). An encrypted
    key is decrypted with ``passphrase``, or else the registered ``PassphraseSource``'s answer.

    Raises:
        InputError: missing, not a regular file, larger than 64 KiB, open to group or others,
            not PEM, not an EC P-256/P-384 key, or the passphrase does not decrypt it.
        UsageError: the key is encrypted and no passphrase can be had.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    data = read_private_key_file(path)
    if ENCRYPTED_PEM_LABEL in data and passphrase is None:
        passphrase = _ask_passphrase(path)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        # Only reached with a passphrase for a plain key, or a legacy encrypted PEM
        # ("Proc-Type: 4,ENCRYPTED") that the label check above does not catch.
        if passphrase is None:
            return load_private_key(path, _ask_passphrase(path))
        raise InputError(f"{path}: the key is not encrypted; give no passphrase") from None
    except ValueError as exc:
        if passphrase is not None:
            # cryptography says "Bad decrypt. Incorrect password?" for a wrong passphrase.
            raise InputError(
                f"{path}: the passphrase does not decrypt this key",
                hint="check the passphrase (NEXUSCTL_KEY_PASSWORD, or the one typed at the prompt)",
            ) from None
        raise InputError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InputError(f"{path}: only ECDSA P-256/P-384 keys are supported")
    _check_curve(key.curve, path)
    return key


def load_public_key(data: bytes, where: str) -> ec.EllipticCurvePublicKey:
    """Parse a PEM SubjectPublicKeyInfo EC public key.

    Raises:
        InputError: not PEM, or not an EC P-256/P-384 key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InputError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InputError(f"{where}: only ECDSA P-256/P-384 public keys are supported")
    _check_curve(key.curve, where)
    return key


def load_public_key_file(path: Path) -> ec.EllipticCurvePublicKey:
    """Read and parse a PEM public key file (see ``load_public_key``)."""
    return load_public_key(read_bounded(path, MAX_KEY_BYTES, what="public key file"), str(path))


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """Return the ``publicKey.hint`` for ``key``: lowercase hex SHA-256 of its PEM SPKI.

    This is OpenSSF model-signing's choice (its verifier refuses a non-empty hint computed any
    other way), so one hint serves both verifiers. A hint is never trusted: verification looks
    keys up in the trust policy and tries each allowed key.
    """
    from cryptography.hazmat.primitives import serialization

    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def _ask_passphrase(path: Path) -> bytes:
    if not _passphrase_source:
        raise UsageError(
            f"{path}: the private key is encrypted and no passphrase was given",
            hint="set NEXUSCTL_KEY_PASSWORD, or run on a terminal to be asked",
        )
    return _passphrase_source[0](path)


def _check_curve(curve: ec.EllipticCurve, where: object) -> None:
    if curve.name not in ("secp256r1", "secp384r1"):
        raise InputError(f"{where}: curve {curve.name} is not supported (use P-256 or P-384)")


def read_private_key_file(path: Path) -> bytes:
    """Return the bytes of a private key file after checking it is private (mode 0600 or less).

    The mode is read from the open descriptor, so the file checked is the file read.

    Raises:
        InputError: as ``nexusctl.files.read_bounded``, or group/others may access the file.
    """
    with open_regular(path, what="private key file") as handle:
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if mode & 0o077:
            raise InputError(
                f"{path}: private key file is accessible by group or others "
                f"(mode {mode:04o}); refusing to use it",
                hint=f"chmod 600 {path}",
            )
        try:
            data = handle.read(MAX_KEY_BYTES + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read private key file: {exc.strerror}") from None
    if len(data) > MAX_KEY_BYTES:
        raise InputError(
            f"{path}: private key file is larger than the {describe_size(MAX_KEY_BYTES)} cap"
        )
    return data
