"""Offline verification of a signed bundle against a trust policy environment.

Order (each failure is a ``VerificationError`` with its own ``reason``):

1. the tree: no symlink or special file, every manifest file present and intact, no extra file;
2. the bundle signature: well-formed Sigstore bundle, a valid signature over the DSSE PAE by a
   signer the environment allows (keys and CAs come from the trust policy, never the bundle);
3. the signed statement: model-signing's layout, naming exactly this bundle's files and this
   manifest (so the bundle digest is what was signed);
4. attestations: each present one is signed by an allowed signer and names this bundle's digest;
   each one the environment requires is present.

Nothing here opens a network connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.bundle import SIGNATURE_NAME, BundleTree, check_tree
from nexusctl.errors import VerificationError
from nexusctl.signing._dsse import IN_TOTO_PAYLOAD_TYPE, verify_pae
from nexusctl.signing._reader import DsseBundle, read_dsse_bundle
from nexusctl.signing.keys import key_hint
from nexusctl.signing.statements import (
    MODEL_SIGNING_PREDICATE,
    ROUTING_DIFF_PREDICATE,
    SLSA_PROVENANCE_PREDICATE,
    STATEMENT_TYPE,
    bundle_resources,
    resources_root_digest,
)

if TYPE_CHECKING:
    from cryptography import x509

    from nexusctl.signing.trust import ResolvedEnvironment

MAX_SIGNATURE_BYTES = 8 * 1024 * 1024
#: Attestation file name (under attestations/) -> the predicate type it must carry.
ATTESTATION_PREDICATES = {
    "provenance": SLSA_PROVENANCE_PREDICATE,
    "routing-diff": ROUTING_DIFF_PREDICATE,
}


@dataclass(frozen=True)
class SignedStatement:
    """A statement whose signature verified, and who signed it."""

    signer: str
    payload: bytes
    statement: dict[str, Any]


@dataclass(frozen=True)
class VerificationReport:
    """What verification established about a bundle."""

    bundle: str
    name: str
    digest: str
    environment: str
    signer: str
    files: int
    attestations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON document ``verify --format json`` prints."""
        return {
            "ok": True,
            "bundle": self.bundle,
            "name": self.name,
            "digest": self.digest,
            "environment": self.environment,
            "signer": self.signer,
            "files": self.files,
            "attestations": [
                {"kind": kind, "signer": signer}
                for kind, signer in sorted(self.attestations.items())
            ],
        }


def verify_bundle(
    bundle_dir: Path, env: ResolvedEnvironment, *, now: dt.datetime | None = None
) -> VerificationReport:
    """Verify ``bundle_dir`` offline against one trust-policy environment.

    Raises:
        InputError: ``bundle_dir`` is not a folder.
        VerificationError: any check failed; ``reason`` says which (see docs/signing.md).
    """
    tree = check_tree(bundle_dir)
    if not tree.has_signature:
        raise VerificationError(
            f"{bundle_dir}: no {SIGNATURE_NAME}; the bundle is not signed",
            reason="signature-missing",
        )
    signed = verify_signature_file(bundle_dir / SIGNATURE_NAME, env, now=now)
    _check_bundle_statement(tree, signed.statement)
    attestations = {}
    statements = {}
    for rel in tree.attestations:
        kind = rel.split("/")[1].removesuffix(".sigstore.json")
        attested = verify_signature_file(bundle_dir / rel, env, now=now, what=rel)
        _check_attestation(tree, rel, kind, attested.statement)
        attestations[kind] = attested.signer
        statements[kind] = attested.statement
    for kind in env.required_attestations:
        if kind == "routing-diff" and kind in statements:
            _check_gates_passed(statements[kind])
        if kind not in attestations:
            raise VerificationError(
                f"environment '{env.name}' requires a '{kind}' attestation; the bundle has none",
                reason="attestation-missing",
                hint=f"add it with `nexusctl policy attest BUNDLE --{kind}`"
                if kind == "provenance"
                else None,
            )
    return VerificationReport(
        bundle=str(bundle_dir),
        name=tree.manifest.name,
        digest=tree.digest,
        environment=env.name,
        signer=signed.signer,
        files=len(tree.manifest.files),
        attestations=attestations,
    )


def verify_signature_file(
    path: Path,
    env: ResolvedEnvironment,
    *,
    now: dt.datetime | None = None,
    what: str = SIGNATURE_NAME,
) -> SignedStatement:
    """Verify one Sigstore bundle file: signature over the PAE, signer allowed by ``env``.

    Returns the verified payload bytes and the statement parsed from exactly those bytes.

    Raises:
        VerificationError: ``malformed-signature``, ``bad-signature``, ``untrusted-signer``,
            ``identity-mismatch``, ``issuer-mismatch`` or ``malformed-statement``.
    """
    raw = _read_signature(path, what)
    bundle = _parse_bundle(raw, what)
    if bundle.certificate_chain:
        signer = _verify_with_ca(bundle, env, what, now)
    elif bundle.certificate is not None:
        signer = _verify_keyless(raw, env, what)
    else:
        signer = _verify_with_keys(bundle, env, what)
    payload = bundle.payload
    try:
        statement = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VerificationError(
            f"{what}: the signed payload is not JSON", reason="malformed-statement"
        ) from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise VerificationError(
            f"{what}: the signed payload is not an in-toto Statement v1",
            reason="malformed-statement",
        )
    return SignedStatement(signer=signer, payload=payload, statement=statement)


def _read_signature(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_SIGNATURE_BYTES:
            raise VerificationError(f"{what}: larger than 8 MiB", reason="malformed-signature")
        return path.read_bytes()
    except FileNotFoundError:
        raise VerificationError(f"{what}: not found", reason="signature-missing") from None


def _parse_bundle(raw: bytes, what: str) -> DsseBundle:
    bundle = read_dsse_bundle(raw, what)
    if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationError(
            f"{what}: payload type {bundle.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE}",
            reason="malformed-signature",
        )
    return bundle


def _verify_with_keys(bundle: DsseBundle, env: ResolvedEnvironment, what: str) -> str:
    for key_id, key in env.keys:
        if verify_pae(key, bundle.signature, bundle.payload_type, bundle.payload):
            return f"key:{key_id}"
    # The hint only chooses the message; acceptance above never looked at it.
    hint = bundle.public_key_hint
    if hint and any(key_hint(key) == hint for _, key in env.keys):
        raise VerificationError(
            f"{what}: the signature does not verify (payload or signature altered)",
            reason="bad-signature",
        )
    raise VerificationError(
        f"{what}: not signed by any key the trust policy allows for '{env.name}'",
        reason="untrusted-signer",
        hint="allowed keys: " + (", ".join(k for k, _ in env.keys) or "none"),
    )


def _verify_with_ca(
    bundle: DsseBundle, env: ResolvedEnvironment, what: str, now: dt.datetime | None
) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        chain = [x509.load_der_x509_certificate(der) for der in bundle.certificate_chain]
    except ValueError as exc:
        raise VerificationError(
            f"{what}: a certificate in the chain is not DER ({exc})", reason="malformed-signature"
        ) from None
    if not chain:
        raise VerificationError(f"{what}: empty certificate chain", reason="malformed-signature")
    leaf = chain[0]
    moment = now or dt.datetime.now(dt.UTC)
    for ca, roots in env.authorities:
        if _chains_to(leaf, chain[1:], roots, moment):
            key = leaf.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey) or not verify_pae(
                key, bundle.signature, bundle.payload_type, bundle.payload
            ):
                raise VerificationError(
                    f"{what}: the signature does not verify with the certificate's key",
                    reason="bad-signature",
                )
            if not _can_sign(leaf):
                raise VerificationError(
                    f"{what}: the certificate is not for digital signatures",
                    reason="untrusted-signer",
                )
            names = _san_values(leaf)
            if ca.identities and not names & set(ca.identities):
                raise VerificationError(
                    f"{what}: certificate identity {sorted(names)} is not allowed by CA '{ca.id}'",
                    reason="identity-mismatch",
                )
            return f"ca:{ca.id}:{','.join(sorted(names))}"
    raise VerificationError(
        f"{what}: the certificate does not chain to a CA the trust policy allows for '{env.name}'",
        reason="untrusted-signer",
    )


def _chains_to(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
    moment: dt.datetime,
) -> bool:
    """Walk issuer links from ``leaf`` to one of ``roots`` (each link signature-checked)."""
    from cryptography import x509 as x509_mod

    current = leaf
    for _ in range(len(intermediates) + 2):
        if not (current.not_valid_before_utc <= moment <= current.not_valid_after_utc):
            return False
        for root in roots:
            if _issued_by(current, root):
                return _valid_ca(root, moment, x509_mod)
        issuer = next((c for c in intermediates if _issued_by(current, c)), None)
        if issuer is None or not _valid_ca(issuer, moment, x509_mod):
            return False
        current = issuer
    return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):  # TypeError: unusable key types
        return False
    return True


def _valid_ca(cert: x509.Certificate, moment: dt.datetime, x509_mod: Any) -> bool:
    if not (cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc):
        return False
    try:
        constraints = cert.extensions.get_extension_for_class(x509_mod.BasicConstraints)
    except x509_mod.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)


def _can_sign(cert: x509.Certificate) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        if usage.value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        return ExtendedKeyUsageOID.CODE_SIGNING in eku.value
    except x509.ExtensionNotFound:
        return False


def _san_values(cert: x509.Certificate) -> set[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    values: set[str] = set()
    for kind in (x509.RFC822Name, x509.UniformResourceIdentifier, x509.DNSName):
        values.update(str(v) for v in san.get_values_for_type(kind))
    return values


def _verify_keyless(raw: bytes, env: ResolvedEnvironment, what: str) -> str:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    if not env.identities or env.trusted_root is None:
        raise VerificationError(
            f"{what}: keyless signature, but '{env.name}' allows no keyless identity",
            reason="untrusted-signer",
        )
    try:
        bundle = Bundle.from_json(raw)
    except SigstoreError as exc:
        raise VerificationError(
            f"{what}: not a valid keyless Sigstore bundle ({exc})", reason="malformed-signature"
        ) from None
    try:
        root = TrustedRoot.from_file(str(env.trusted_root))
    except Exception as exc:  # OSError, JSON or pydantic errors: all mean "not a usable root"
        from nexusctl.errors import InputError

        raise InputError(f"{env.trusted_root}: not a Sigstore trusted root ({exc})") from None
    judge = _IdentityJudge(env, policy)
    try:
        Verifier(trusted_root=root).verify_dsse(bundle, judge)
    except SigstoreError as exc:
        if judge.reason is not None:
            raise VerificationError(f"{what}: {judge.message}", reason=judge.reason) from None
        raise VerificationError(
            f"{what}: keyless verification failed: {exc}", reason="bad-signature"
        ) from None
    return judge.accepted or "keyless"


class _IdentityJudge:
    """A sigstore VerificationPolicy that also records *why* an identity was refused."""

    def __init__(self, env: ResolvedEnvironment, policy_module: Any) -> None:
        self._env = env
        self._policy = policy_module
        self.reason: str | None = None
        self.message = ""
        self.accepted: str | None = None

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError as SigstoreVerificationError

        for ident in self._env.identities:
            try:
                self._policy.Identity(identity=ident.san, issuer=ident.issuer).verify(cert)
            except SigstoreVerificationError:
                continue
            self.accepted = f"keyless:{ident.san} ({ident.issuer})"
            return
        names = _san_values(cert)
        if any(ident.san in names for ident in self._env.identities):
            self.reason = "issuer-mismatch"
            self.message = (
                f"identity {sorted(names)} is allowed only with another OIDC issuer "
                f"in '{self._env.name}'"
            )
        else:
            self.reason = "identity-mismatch"
            self.message = (
                f"keyless identity {sorted(names)} is not allowed to sign for '{self._env.name}'"
            )
        raise SigstoreVerificationError(self.message)


def _check_bundle_statement(tree: BundleTree, statement: dict[str, Any]) -> None:
    if statement.get("predicateType") != MODEL_SIGNING_PREDICATE:
        raise VerificationError(
            f"{SIGNATURE_NAME}: predicate type {statement.get('predicateType')!r} is not a "
            "bundle signature",
            reason="wrong-predicate",
        )
    try:
        subjects = statement["subject"]
        predicate = statement["predicate"]
        resources = [
            {"name": str(r["name"]), "algorithm": str(r["algorithm"]), "digest": str(r["digest"])}
            for r in predicate["resources"]
        ]
        (subject,) = subjects
        signed_root = subject["digest"]["sha256"]
        signed_name = subject["name"]
    except (KeyError, TypeError, ValueError):
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed statement does not follow model-signing's layout",
            reason="malformed-statement",
        ) from None
    if resources_root_digest(resources) != signed_root:
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed resources do not hash to the signed subject",
            reason="malformed-statement",
        )
    expected = bundle_resources(tree.contents, hashlib.sha256(tree.manifest_bytes).hexdigest())
    if signed_name != tree.manifest.name:
        raise VerificationError(
            f"{SIGNATURE_NAME}: signature is for bundle '{signed_name}', this is "
            f"'{tree.manifest.name}'",
            reason="subject-mismatch",
        )
    signed_by_name = {r["name"]: r for r in resources}
    expected_by_name = {r["name"]: r for r in expected}
    if set(signed_by_name) == set(expected_by_name):
        manifest = "manifest.json"
        if signed_by_name[manifest] != expected_by_name[manifest]:
            raise VerificationError(
                f"{SIGNATURE_NAME}: manifest.json is not the manifest that was signed",
                reason="manifest-not-signed",
            )
    if resources != expected:
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed files are not this bundle's files",
            reason="subject-mismatch",
        )


def _check_attestation(tree: BundleTree, rel: str, kind: str, statement: dict[str, Any]) -> None:
    expected_type = ATTESTATION_PREDICATES.get(kind)
    if expected_type is not None and statement.get("predicateType") != expected_type:
        raise VerificationError(
            f"{rel}: predicate type {statement.get('predicateType')!r}, expected {expected_type}",
            reason="wrong-predicate",
        )
    digest = tree.digest.removeprefix("sha256:")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not any(
        isinstance(s, dict)
        and isinstance(s.get("digest"), dict)
        and s["digest"].get("sha256") == digest
        for s in subjects
    ):
        raise VerificationError(
            f"{rel}: the attestation is not about this bundle (digest {tree.digest})",
            reason="attestation-subject-mismatch",
        )


def _check_gates_passed(statement: dict[str, Any]) -> None:
    """A required routing diff must record that every gate passed (a failed diff is evidence,
    not permission)."""
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict) or predicate.get("passed") is not True:
        failed = []
        if isinstance(predicate, dict) and isinstance(predicate.get("gates"), list):
            failed = [
                str(g.get("name"))
                for g in predicate["gates"]
                if isinstance(g, dict) and g.get("passed") is not True
            ]
        raise VerificationError(
            "the routing-diff attestation records failed gates"
            + (f": {', '.join(failed)}" if failed else ""),
            reason="routing-diff-failed",
        )
