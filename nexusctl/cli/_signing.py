"""The signing options shared by every command that signs (policy sign/attest, simulate).

Also where passphrases of encrypted keys come from, for every command that loads a private
key (``install_passphrase_source``, called once by the root command): the environment
variable ``NEXUSCTL_KEY_PASSWORD`` when it is set (cosign reads ``COSIGN_PASSWORD`` the same
way), else a prompt when stdin is a terminal, else a usage error that says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexusctl.errors import EnvironmentError_, InputError, UsageError

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer

MAX_TRUST_CONFIG_BYTES = 4 * 1024 * 1024
#: The variable a passphrase is read from (its name, not a secret).
PASSPHRASE_ENV = "NEXUSCTL_KEY_PASSWORD"  # noqa: S105

KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="PEM ECDSA P-256 private key (local-key mode). Like ssh, a key file that group or "
        f"others can read or write is refused: chmod 600 it. An encrypted key's passphrase comes "
        f"from ${PASSPHRASE_ENV}, or is asked for on a terminal.",
    ),
]
CertOpt = Annotated[
    Path | None,
    typer.Option("--certificate", help="PEM leaf certificate for --key (private-PKI mode)."),
]
ChainOpt = Annotated[
    Path | None,
    typer.Option("--chain", help="PEM intermediates and root for --certificate, leaf excluded."),
]
KeylessOpt = Annotated[
    bool, typer.Option("--keyless", help="Sigstore keyless: Fulcio + Rekor + OIDC.")
]
TrustConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--trust-config",
        help="Sigstore ClientTrustConfig JSON (trusted root + signing config) for --keyless, "
        "e.g. a private instance. Default: Sigstore's public-good instance, from the trust "
        "data the installed sigstore-python ships.",
    ),
]
StagingOpt = Annotated[
    bool,
    typer.Option(
        "--staging", help="--keyless against Sigstore's staging instance (shipped trust data)."
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--identity-token",
        envvar="SIGSTORE_ID_TOKEN",
        show_envvar=True,
        help="OIDC identity token for --keyless; default: the CI's ambient credential "
        "(GitHub Actions with id-token: write, GitLab, Buildkite, CircleCI, Google Cloud).",
    ),
]


def make_signer(
    key: Path | None,
    certificate: Path | None,
    chain: Path | None,
    keyless: bool,
    trust_config: Path | None,
    identity_token: str | None,
    staging: bool = False,
) -> Signer:
    """Build the signer the options ask for.

    Raises:
        UsageError: no mode, or modes that cannot go together.
        InputError: an unreadable trust config, key or certificate.
    """
    from nexusctl.signing import CertificateSigner, KeylessSigner, KeySigner

    if keyless:
        if key or certificate or chain:
            raise UsageError("--keyless cannot be combined with --key/--certificate/--chain")
        if trust_config is not None and staging:
            raise UsageError("--staging and --trust-config cannot go together")
        config_text = _trust_config_text(trust_config, staging)
        token = identity_token or _ambient_token()
        return KeylessSigner(config_text, token)
    if staging:
        raise UsageError("--staging needs --keyless")
    if key is None:
        raise UsageError("choose a signing mode: --key KEY.pem [--certificate ...] or --keyless")
    if certificate is not None:
        return CertificateSigner.from_files(key, certificate, chain)
    if chain is not None:
        raise UsageError("--chain needs --certificate")
    return KeySigner.from_file(key)


def _trust_config_text(trust_config: Path | None, staging: bool) -> str:
    from nexusctl.signing.signers import public_good_trust_config

    if trust_config is None:
        return public_good_trust_config(staging=staging)
    from nexusctl.files import read_bounded

    raw = read_bounded(trust_config, MAX_TRUST_CONFIG_BYTES, what="Sigstore trust config")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{trust_config}: the trust config is not UTF-8") from None


def _ambient_token() -> str:
    try:
        from sigstore.oidc import IdentityError, detect_credential

        token = detect_credential()
    except IdentityError as exc:
        # id's messages name the variable or status, never the credential itself.
        hint = None
        if "ACTIONS_ID_TOKEN_REQUEST" in str(exc):
            hint = "give the job `permissions: id-token: write` (GitHub Actions)"
        raise EnvironmentError_(
            f"could not get the CI's ambient OIDC token: {exc}", hint=hint
        ) from None
    if not token:
        raise UsageError(
            "--keyless needs an identity token: --identity-token, $SIGSTORE_ID_TOKEN, "
            "or a CI with ambient OIDC credentials"
        )
    return token


def read_passphrase(path: Path, *, confirm: bool = False) -> bytes:
    """The passphrase for ``path``: $NEXUSCTL_KEY_PASSWORD, else a prompt on a terminal.

    Raises:
        UsageError: neither is available (no variable, stdin not a terminal), or the two
            prompted entries differ.
    """
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        raise UsageError(
            f"{path}: a passphrase is needed and there is no terminal to ask on",
            hint=f"set {PASSPHRASE_ENV}",
        )
    import getpass

    # getpass writes the prompt to the terminal, never to stdout, and echoes nothing.
    first = getpass.getpass(f"Passphrase for {path}: ")
    if confirm and getpass.getpass("Again, to confirm: ") != first:
        raise UsageError("the two passphrases differ; nothing was written")
    return first.encode("utf-8")


def install_passphrase_source() -> None:
    """Let every key load in this process ask ``read_passphrase`` for an encrypted key's."""
    from nexusctl.signing.keys import set_passphrase_source

    set_passphrase_source(read_passphrase)
