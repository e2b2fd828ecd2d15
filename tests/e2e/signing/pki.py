"""A throwaway private PKI for tests: root CA, intermediate and a code-signing leaf."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(folder: Path, san: str) -> dict[str, Path]:
    """A root CA, an intermediate and a code-signing leaf for ``san``, as PEM files."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())

    def cert(
        subject: str,
        issuer: str,
        public: ec.EllipticCurvePublicKey,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name(issuer))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
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
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(san)]), critical=False
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    root = cert("Nebula Root CA", "Nebula Root CA", root_key.public_key(), root_key, True)
    inter = cert("Nebula Signing CA", "Nebula Root CA", inter_key.public_key(), root_key, True)
    leaf = cert("release", "Nebula Signing CA", leaf_key.public_key(), inter_key, False)
    pem = serialization.Encoding.PEM
    files = {
        "root": folder / "root.pem",
        "chain": folder / "chain.pem",
        "leaf": folder / "leaf.pem",
        "key": folder / "leaf.key",
    }
    files["root"].write_bytes(root.public_bytes(pem))
    files["chain"].write_bytes(inter.public_bytes(pem) + root.public_bytes(pem))
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
