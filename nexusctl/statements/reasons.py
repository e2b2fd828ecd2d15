"""Verification reason codes: the one list every bundle and signature check reports from.

A ``StrEnum``, so each member *is* its string: ``VerificationError(reason=Reason.SYMLINK)``
prints ``symlink``, ``--format json`` writes ``"symlink"``, and scripts that match on the
strings documented in docs/signing.md keep working.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a bundle, signature or attestation was refused (``VerificationError.reason``)."""

    # The bundle tree against its manifest (nexusctl.bundle.check_tree).
    SYMLINK = "symlink"
    UNSAFE_ENTRY = "unsafe-entry"
    UNSAFE_PATH = "unsafe-path"
    MANIFEST_MISSING = "manifest-missing"
    MANIFEST_TOO_LARGE = "manifest-too-large"
    MALFORMED_MANIFEST = "malformed-manifest"
    MISSING_FILE = "missing-file"
    EXTRA_FILE = "extra-file"
    DIGEST_MISMATCH = "digest-mismatch"
    # A signature file (the bundle signature or an attestation).
    SIGNATURE_MISSING = "signature-missing"
    MALFORMED_SIGNATURE = "malformed-signature"
    BAD_SIGNATURE = "bad-signature"
    UNTRUSTED_SIGNER = "untrusted-signer"
    IDENTITY_MISMATCH = "identity-mismatch"
    ISSUER_MISMATCH = "issuer-mismatch"
    SOURCE_MISMATCH = "source-mismatch"
    # The signed statement.
    MALFORMED_STATEMENT = "malformed-statement"
    WRONG_PREDICATE = "wrong-predicate"
    MALFORMED_PREDICATE = "malformed-predicate"
    IGNORE_PATHS_TOO_BROAD = "ignore-paths-too-broad"
    SUBJECT_MISMATCH = "subject-mismatch"
    MANIFEST_NOT_SIGNED = "manifest-not-signed"
    # Attestations.
    UNKNOWN_ATTESTATION = "unknown-attestation"
    ATTESTATION_SUBJECT_MISMATCH = "attestation-subject-mismatch"
    ATTESTATION_MISSING = "attestation-missing"
    ROUTING_DIFF_FAILED = "routing-diff-failed"
