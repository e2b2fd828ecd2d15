"""Signatures, attestations and offline verification for policy bundles.

Public names (imported lazily, so `import nexusctl.signing` costs nothing until used):

- ``sign_bundle(bundle_dir, signer)``: write ``signature.sigstore.json`` (model-signing layout).
- ``attest(subjects, predicate_type, predicate, signer) -> bytes``: any signed in-toto statement
  (Sigstore bundle v0.3 JSON); ``write_attestation(bundle_dir, kind, bundle_json)`` files it.
- ``attest_provenance(bundle_dir, signer, source)``: SLSA provenance v1 for a bundle.
- ``verify_bundle(bundle_dir, env)``: offline verification against a trust-policy environment
  (``load_trust_policy`` + ``resolve_environment`` give ``env``).
- Signers: ``KeySigner``, ``CertificateSigner``, ``KeylessSigner`` (the ``Signer`` protocol).

Heavy libraries (cryptography, sigstore, sigstore_models, git) are imported inside functions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nexusctl.signing._api import attest_provenance, sign_bundle, write_attestation
    from nexusctl.signing.provenance import SourceInfo, Subject, attest, read_git_source
    from nexusctl.signing.signers import CertificateSigner, KeylessSigner, KeySigner, Signer
    from nexusctl.signing.trust import load_trust_policy, resolve_environment
    from nexusctl.signing.verify import VerificationReport, verify_bundle

_WHERE = {
    "attest_provenance": "_api",
    "sign_bundle": "_api",
    "write_attestation": "_api",
    "SourceInfo": "provenance",
    "attest": "provenance",
    "read_git_source": "provenance",
    "CertificateSigner": "signers",
    "KeylessSigner": "signers",
    "KeySigner": "signers",
    "Signer": "signers",
    "Subject": "provenance",
    "load_trust_policy": "trust",
    "resolve_environment": "trust",
    "VerificationReport": "verify",
    "verify_bundle": "verify",
}

__all__ = [
    "CertificateSigner",
    "KeySigner",
    "KeylessSigner",
    "Signer",
    "SourceInfo",
    "Subject",
    "VerificationReport",
    "attest",
    "attest_provenance",
    "load_trust_policy",
    "read_git_source",
    "resolve_environment",
    "sign_bundle",
    "verify_bundle",
    "write_attestation",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nexusctl.signing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nexusctl.signing.{module}"), name)
