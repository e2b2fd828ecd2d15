"""A throwaway private PKI for tests: root CA, intermediate(s) and a code-signing leaf.

The keyword options build the deliberately broken CAs the path-validation tests need (a path
length the chain exceeds, name constraints the leaf violates, key usages that forbid code
signing); the defaults give the valid PKI every other test signs with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    issuer: str,
    public: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    path_length: int | None = None,
    san: x509.GeneralName | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    name_constraints: x509.NameConstraints | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
    return builder.sign(signer, hashes.SHA256())


def make_pki(
    folder: Path,
    san: str,
    *,
    root_path_length: int | None = None,
    intermediates: int = 1,
    ca_name_constraints: x509.NameConstraints | None = None,
    ca_eku: Sequence[x509.ObjectIdentifier] | None = None,
    leaf_eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CODE_SIGNING,),
) -> dict[str, Path]:
    """A root CA, ``intermediates`` CAs below it and a leaf for ``san``, as PEM files.

    ``san`` is an email address, or a DNS name when it has no ``@``. ``ca_name_constraints``
    and ``ca_eku`` go on the lowest intermediate (the leaf's issuer).
    """
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(
        "Nebula Root CA",
        "Nebula Root CA",
        root_key.public_key(),
        root_key,
        ca=True,
        path_length=root_path_length,
    )
    issuer_name, issuer_key, chain = "Nebula Root CA", root_key, [root]
    for index in range(intermediates):
        key = ec.generate_private_key(ec.SECP256R1())
        name = f"Nebula Signing CA {index + 1}"
        lowest = index == intermediates - 1
        cert = _cert(
            name,
            issuer_name,
            key.public_key(),
            issuer_key,
            ca=True,
            eku=ca_eku if lowest else None,
            name_constraints=ca_name_constraints if lowest else None,
        )
        issuer_name, issuer_key = name, key
        chain.insert(0, cert)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    general: x509.GeneralName = x509.RFC822Name(san) if "@" in san else x509.DNSName(san)
    leaf = _cert(
        "release",
        issuer_name,
        leaf_key.public_key(),
        issuer_key,
        ca=False,
        san=general,
        eku=leaf_eku,
    )
    pem = serialization.Encoding.PEM
    files = {
        "root": folder / "root.pem",
        "chain": folder / "chain.pem",
        "leaf": folder / "leaf.pem",
        "key": folder / "leaf.key",
    }
    files["root"].write_bytes(root.public_bytes(pem))
    files["chain"].write_bytes(b"".join(c.public_bytes(pem) for c in chain))
    files["leaf"].write_bytes(leaf.public_bytes(pem))
    files["key"].write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files["key"].chmod(0o600)  # nexusctl, like ssh, refuses a key others can read
    return files


def certificate_sign_args(bundle: Path, pki: dict[str, Path]) -> list[str]:
    """The `policy sign` arguments that sign ``bundle`` with ``pki``'s leaf key and chain."""
    return [
        "policy", "sign", str(bundle),
        "--key", str(pki["key"]),
        "--certificate", str(pki["leaf"]),
        "--chain", str(pki["chain"]),
    ]  # fmt: skip
