"""Private-PKI signatures: the leaf's chain to a trust-policy root, validated by cryptography.

Path building and validation are ``cryptography.x509.verification``'s (RFC 5280 as the Web PKI
profile applies it): signatures link by link, validity at the verification time, CA flags,
key usage, **path length** and **name constraints**. Two deliberate departures from the Web
PKI defaults, both for code-signing PKIs:

* extended key usage: the Web PKI client profile demands ``clientAuth``; ours accepts an EKU
  only if it allows ``codeSigning`` (or ``anyExtendedKeyUsage``), on the leaf *and* on every
  CA above it (EKU chaining: a CA limited to TLS cannot issue a code-signing leaf);
* the authority/subject key identifiers are optional (the chain is matched by signature).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from nexusctl.errors import VerificationError
from nexusctl.statements import Reason

if TYPE_CHECKING:
    from cryptography import x509


def verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    moment: dt.datetime,
) -> str | None:
    """Return None when ``leaf`` chains to one of ``roots`` at ``moment``, else why not."""
    from cryptography.x509 import verification

    builder = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))
        .time(moment)
        .extension_policies(ca_policy=_ca_policy(), ee_policy=_ee_policy())
    )
    try:
        builder.build_client_verifier().verify(leaf, intermediates)
    except verification.VerificationError as exc:
        return str(exc)
    except ValueError as exc:  # e.g. a general name type the validator cannot compare
        return str(exc)
    return None


def can_sign(cert: x509.Certificate) -> bool:
    """True when the leaf may sign: key usage ``digitalSignature`` or EKU ``codeSigning``."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CODE_SIGNING in eku.value


def san_values(cert: x509.Certificate) -> set[str]:
    """The certificate's email, URI and DNS subject alternative names."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    values: set[str] = set()
    for kind in (x509.RFC822Name, x509.UniformResourceIdentifier, x509.DNSName):
        values.update(str(v) for v in san.get_values_for_type(kind))
    return values


def load_chain(ders: tuple[bytes, ...], what: str) -> list[x509.Certificate]:
    """Parse the bundle's DER certificates (leaf first).

    Raises:
        VerificationError: ``malformed-signature``.
    """
    from cryptography import x509

    try:
        chain = [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise VerificationError(
            f"{what}: a certificate in the chain is not DER ({exc})",
            reason=Reason.MALFORMED_SIGNATURE,
        ) from None
    if not chain:
        raise VerificationError(
            f"{what}: empty certificate chain", reason=Reason.MALFORMED_SIGNATURE
        )
    return chain


def _code_signing_eku(_policy: Any, _cert: Any, eku: Any) -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if eku is None:
        return
    allowed = {ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    if not allowed & set(eku):
        raise ValueError("extended key usage does not allow code signing")


def _ca_policy() -> Any:
    from cryptography import x509
    from cryptography.x509.verification import Criticality, ExtensionPolicy

    return (
        ExtensionPolicy.webpki_defaults_ca()
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _code_signing_eku)
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
        .may_be_present(x509.SubjectKeyIdentifier, Criticality.NON_CRITICAL, None)
    )


def _ee_policy() -> Any:
    from cryptography import x509
    from cryptography.x509.verification import Criticality, ExtensionPolicy

    return (
        ExtensionPolicy.webpki_defaults_ee()
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _code_signing_eku)
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
    )
