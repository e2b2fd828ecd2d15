"""Signers: each turns an in-toto statement into a Sigstore bundle v0.3 (JSON bytes).

``Signer`` is the one interface; a local key, a private-PKI certificate and Sigstore keyless
implement it today, an HSM or cloud KMS signer later. Key and certificate bundles are built
with the ``sigstore_models`` types sigstore-python ships (its own ``Bundle`` refuses bundles
without a Fulcio certificate and a log entry); keyless goes through sigstore-python itself.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, Protocol

from nexusctl.errors import EnvironmentError_, InputError
from nexusctl.files import read_bounded
from nexusctl.signing._dsse import IN_TOTO_PAYLOAD_TYPE, sign_pae
from nexusctl.signing.keys import key_hint, load_private_key

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from sigstore_models.bundle.v1 import VerificationMaterial

BUNDLE_MEDIA_TYPE: Final[Literal["application/vnd.dev.sigstore.bundle.v0.3+json"]] = (
    "application/vnd.dev.sigstore.bundle.v0.3+json"
)
MAX_CERT_BYTES = 256 * 1024


class Signer(Protocol):
    """Signs in-toto statements; returns a Sigstore bundle v0.3 as JSON bytes."""

    def sign_statement(self, statement: bytes) -> bytes:
        """Sign ``statement`` (the exact payload bytes) in a DSSE envelope inside a bundle."""
        ...


class KeySigner:
    """A local ECDSA key: offline signing, ``publicKey.hint`` and no transparency-log entry."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> KeySigner:
        """Load the signer's key from a PEM file (see ``keys.load_private_key``)."""
        return cls(load_private_key(path))

    def sign_statement(self, statement: bytes) -> bytes:
        """Sign ``statement``; the DSSE keyid equals the bundle's hint, as the spec asks."""
        from sigstore_models.bundle.v1 import VerificationMaterial
        from sigstore_models.common.v1 import PublicKeyIdentifier

        hint = key_hint(self._key.public_key())
        material = VerificationMaterial(public_key=PublicKeyIdentifier(hint=hint), tlog_entries=[])
        return _dsse_bundle(self._key, statement, material, keyid=hint)


class CertificateSigner:
    """A private-PKI certificate: the key signs, the bundle carries leaf + chain."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, chain: list[x509.Certificate]) -> None:
        from cryptography.hazmat.primitives import serialization

        if not chain:
            raise InputError("a certificate signer needs at least the leaf certificate")
        leaf_key = (
            chain[0]
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        own_key = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if leaf_key != own_key:
            raise InputError("the certificate does not belong to the signing key")
        self._key = key
        self._chain = chain

    @classmethod
    def from_files(
        cls, key_path: Path, certificate_path: Path, chain_path: Path | None
    ) -> CertificateSigner:
        """Load key, leaf certificate and (optionally) intermediates/root from PEM files.

        Raises:
            InputError: unreadable or non-PEM files, or a certificate of another key.
        """
        chain = load_certificates(certificate_path)[:1]
        if chain_path is not None:
            chain += load_certificates(chain_path)
        return cls(load_private_key(key_path), chain)

    def sign_statement(self, statement: bytes) -> bytes:
        """Sign ``statement``; the bundle carries ``x509CertificateChain`` (leaf first)."""
        from cryptography.hazmat.primitives import serialization
        from sigstore_models.bundle.v1 import VerificationMaterial
        from sigstore_models.common.v1 import X509Certificate, X509CertificateChain

        certificates = [
            X509Certificate(raw_bytes=base64.b64encode(c.public_bytes(serialization.Encoding.DER)))
            for c in self._chain
        ]
        material = VerificationMaterial(
            x509_certificate_chain=X509CertificateChain(certificates=certificates),
            tlog_entries=[],
        )
        return _dsse_bundle(self._key, statement, material, keyid="")


class KeylessSigner:
    """Sigstore keyless: an OIDC identity token, Fulcio for a certificate, Rekor for the log.

    The trust config (``ClientTrustConfig`` JSON: trusted root + signing config) is always
    handed in, so the same code signs against the public-good instance (see
    ``public_good_trust_config``) or a private one.
    """

    def __init__(self, trust_config_json: str, identity_token: str) -> None:
        self._trust_config_json = trust_config_json
        self._identity_token = identity_token

    def sign_statement(self, statement: bytes) -> bytes:
        """Sign through sigstore-python's SigningContext (contacts Fulcio and Rekor).

        Raises:
            InputError: the trust config or the identity token is malformed.
            EnvironmentError_: Fulcio or Rekor could not be reached or refused the request.
        """
        from sigstore import dsse
        from sigstore._internal.fulcio.client import ExpiredCertificate, FulcioClientError
        from sigstore._internal.rekor import RekorClientError
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import ClientTrustConfig
        from sigstore.oidc import ExpiredIdentity, IdentityError, IdentityToken
        from sigstore.sign import SigningContext

        try:
            config = ClientTrustConfig.from_json(self._trust_config_json)
        except Exception as exc:  # JSON, pydantic or sigstore errors: all mean "not usable"
            raise InputError(f"the Sigstore trust config is not valid: {exc}") from None
        try:
            token = IdentityToken(self._identity_token)
        except IdentityError as exc:
            raise InputError(f"the identity token is not usable: {exc}") from None
        try:
            context = SigningContext.from_trust_config(config)
            with context.signer(token, cache=True) as signer:
                bundle = signer.sign_dsse(dsse.Statement(statement))
        except ExpiredIdentity:
            raise InputError("the identity token has expired; get a fresh one") from None
        except (SigstoreError, FulcioClientError, RekorClientError, ExpiredCertificate) as exc:
            # sigstore's client errors are not all under sigstore.errors.Error.
            raise EnvironmentError_(f"keyless signing failed: {exc}") from None
        except OSError as exc:
            raise EnvironmentError_(f"keyless signing could not reach Sigstore: {exc}") from None
        return bundle.to_json().encode("utf-8")


#: The TUF repositories whose trust data sigstore-python embeds (its ``_store`` folder holds
#: one sub-folder per repository URL, percent-encoded, with the trusted root and the signing
#: config current when that release was cut).
PUBLIC_GOOD_TUF = "https://tuf-repo-cdn.sigstore.dev"
STAGING_TUF = "https://tuf-repo-cdn.sigstage.dev"
_EMBEDDED = ("trusted_root.json", "signing_config.v0.2.json")


def public_good_trust_config(staging: bool = False) -> str:
    """Return the ClientTrustConfig JSON for Sigstore's public-good (or staging) instance.

    Built from the trusted root and signing config that the installed sigstore-python ships
    as its TUF bootstrap data; read from the package, never from the network, so the answer
    depends only on the sigstore-python version installed.

    Raises:
        EnvironmentError_: the installed sigstore-python does not ship them.
    """
    import json
    from importlib import resources
    from urllib.parse import quote

    url = STAGING_TUF if staging else PUBLIC_GOOD_TUF
    try:
        folder = resources.files("sigstore").joinpath("_store", quote(url, safe=""))
        root, signing = (json.loads(folder.joinpath(name).read_bytes()) for name in _EMBEDDED)
    except (OSError, ValueError) as exc:
        raise EnvironmentError_(
            f"the installed sigstore-python ships no trust data for {url} ({exc})",
            hint="pass --trust-config with a ClientTrustConfig JSON file",
        ) from None
    doc = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": root,
        "signingConfig": signing,
    }
    return json.dumps(doc)


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Load every PEM certificate in ``path``.

    Raises:
        InputError: missing, too large, or holding no PEM certificate.
    """
    from cryptography import x509

    data = read_bounded(path, MAX_CERT_BYTES, what="certificate file")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(f"{path}: not PEM certificates ({exc})") from None
    return certificates


def _dsse_bundle(
    key: ec.EllipticCurvePrivateKey,
    statement: bytes,
    material: VerificationMaterial,
    *,
    keyid: str,
) -> bytes:
    from sigstore_models.bundle.v1 import Bundle
    from sigstore_models.intoto import Envelope, Signature

    signature = sign_pae(key, IN_TOTO_PAYLOAD_TYPE, statement)
    envelope = Envelope(
        payload=base64.b64encode(statement),
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        signatures=[Signature(sig=base64.b64encode(signature), keyid=keyid)],
    )
    bundle = Bundle(
        media_type=BUNDLE_MEDIA_TYPE, verification_material=material, dsse_envelope=envelope
    )
    return bundle.to_json().encode("utf-8")
