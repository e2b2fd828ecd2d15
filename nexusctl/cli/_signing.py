"""The signing options shared by every command that signs (policy sign/attest, simulate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nexusctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer

MAX_TRUST_CONFIG_BYTES = 4 * 1024 * 1024

KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="PEM ECDSA P-256 private key (local-key mode). Like ssh, a key file that group or "
        "others can read or write is refused: chmod 600 it.",
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
        help="Sigstore ClientTrustConfig JSON (trusted root + signing config) for --keyless.",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--identity-token",
        envvar="SIGSTORE_ID_TOKEN",
        show_envvar=True,
        help="OIDC identity token for --keyless; default: the CI's ambient credential.",
    ),
]


def make_signer(
    key: Path | None,
    certificate: Path | None,
    chain: Path | None,
    keyless: bool,
    trust_config: Path | None,
    identity_token: str | None,
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
        if trust_config is None:
            raise UsageError(
                "--keyless needs --trust-config (a Sigstore ClientTrustConfig JSON file)"
            )
        from nexusctl.files import read_bounded

        raw = read_bounded(trust_config, MAX_TRUST_CONFIG_BYTES, what="Sigstore trust config")
        try:
            config_text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{trust_config}: the trust config is not UTF-8") from None
        token = identity_token or _ambient_token()
        return KeylessSigner(config_text, token)
    if key is None:
        raise UsageError("choose a signing mode: --key KEY.pem [--certificate ...] or --keyless")
    if certificate is not None:
        return CertificateSigner.from_files(key, certificate, chain)
    if chain is not None:
        raise UsageError("--chain needs --certificate")
    return KeySigner.from_file(key)


def _ambient_token() -> str:
    from nexusctl.errors import EnvironmentError_

    try:
        from sigstore.oidc import IdentityError, detect_credential

        token = detect_credential()
    except IdentityError as exc:
        raise EnvironmentError_(f"could not get the CI's ambient OIDC token: {exc}") from None
    if not token:
        raise UsageError(
            "--keyless needs an identity token: --identity-token, $SIGSTORE_ID_TOKEN, "
            "or a CI with ambient OIDC credentials"
        )
    return token
