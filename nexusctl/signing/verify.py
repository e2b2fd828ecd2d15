"""Offline verification of a signed bundle against a trust policy environment.

Order (each failure is a ``VerificationError`` with its own ``reason``):

1. the tree: no symlink or special file, every manifest file present and intact, no extra file;
2. the bundle signature: well-formed Sigstore bundle, a valid signature over the DSSE PAE by a
   signer the environment allows (keys and CAs come from the trust policy, never the bundle);
3. the signed statement, parsed from the verified bytes only (``nexusctl.statements``):
   model-signing's layout, naming exactly this bundle's files and this manifest (so the bundle
   digest is what was signed), and asking other verifiers to skip only the signature and the
   attestation files;
4. attestations: each present one is of a known kind, signed by an allowed signer, carries its
   kind's predicate (typed) and names this bundle's digest; each required one is present.

Nothing here opens a network connection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from nexusctl.bundle import MANIFEST_NAME, SIGNATURE_NAME, BundleTree, check_tree
from nexusctl.errors import InputError, VerificationError
from nexusctl.files import read_bounded
from nexusctl.signing._dsse import IN_TOTO_PAYLOAD_TYPE, verify_pae
from nexusctl.signing._layout import (
    SIGNATURE_IGNORE_PATHS,
    bundle_resources,
    resources_root_digest,
)
from nexusctl.signing._pki import can_sign, load_chain, san_values, verify_chain
from nexusctl.signing._reader import DsseBundle, read_dsse_bundle
from nexusctl.signing.keys import key_hint
from nexusctl.statements import (
    ATTESTATION_KINDS,
    ModelSigningPredicate,
    Reason,
    RoutingDiffPredicate,
    Statement,
    StatementError,
    parse_statement,
)

if TYPE_CHECKING:
    from cryptography import x509

    from nexusctl.signing.trust import KeylessIdentity, ResolvedEnvironment

MAX_SIGNATURE_BYTES = 8 * 1024 * 1024
MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class SignedPayload:
    """Payload bytes whose signature verified, and who signed them (not yet parsed)."""

    signer: str
    payload: bytes


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
            reason=Reason.SIGNATURE_MISSING,
        )
    signed = verify_signature_file(bundle_dir / SIGNATURE_NAME, env, now=now)
    _check_bundle_statement(tree, _parse(signed.payload, ModelSigningPredicate, SIGNATURE_NAME))
    attestations = {}
    routing_diff: RoutingDiffPredicate | None = None
    for rel in tree.attestations:
        kind = rel.split("/")[1].removesuffix(".sigstore.json")
        model = ATTESTATION_KINDS.get(kind)
        if model is None:
            raise VerificationError(
                f"{rel}: '{kind}' is not an attestation kind nexusctl knows",
                reason=Reason.UNKNOWN_ATTESTATION,
                hint="known kinds: " + ", ".join(sorted(ATTESTATION_KINDS)),
            )
        attested = verify_signature_file(bundle_dir / rel, env, now=now, what=rel)
        statement = _parse(attested.payload, model, rel)
        if not statement.names_digest(tree.digest.removeprefix("sha256:")):
            raise VerificationError(
                f"{rel}: the attestation is not about this bundle (digest {tree.digest})",
                reason=Reason.ATTESTATION_SUBJECT_MISMATCH,
            )
        if isinstance(statement.predicate, RoutingDiffPredicate):
            routing_diff = statement.predicate
        attestations[kind] = attested.signer
    for kind in env.required_attestations:
        if kind not in attestations:
            raise VerificationError(
                f"environment '{env.name}' requires a '{kind}' attestation; the bundle has none",
                reason=Reason.ATTESTATION_MISSING,
                hint=f"add it with `nexusctl policy attest BUNDLE --{kind}`"
                if kind == "provenance"
                else None,
            )
        if kind == "routing-diff" and routing_diff is not None:
            _check_gates_passed(routing_diff)
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
) -> SignedPayload:
    """Verify one Sigstore bundle file: signature over the PAE, signer allowed by ``env``.

    Returns the verified payload bytes (parse them with ``nexusctl.statements.parse_statement``
    only now: verify before parse).

    Raises:
        VerificationError: ``signature-missing``, ``malformed-signature``, ``bad-signature``,
            ``untrusted-signer``, ``identity-mismatch`` or ``issuer-mismatch``.
    """
    return verify_signature_bytes(_read_signature(path, what), env, now=now, what=what)


def verify_signature_bytes(
    raw: bytes,
    env: ResolvedEnvironment,
    *,
    now: dt.datetime | None = None,
    what: str = SIGNATURE_NAME,
) -> SignedPayload:
    """``verify_signature_file`` for a Sigstore bundle the caller has already read (bounded).

    Raises:
        VerificationError: as ``verify_signature_file``.
    """
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise VerificationError(
            f"{what}: larger than {MAX_SIGNATURE_BYTES} bytes", reason=Reason.MALFORMED_SIGNATURE
        )
    bundle = _parse_bundle(raw, what)
    if bundle.certificate_chain:
        signer = _verify_with_ca(bundle, env, what, now)
    elif bundle.certificate is not None:
        signer = _verify_keyless(raw, env, what)
    else:
        signer = _verify_with_keys(bundle, env, what)
    return SignedPayload(signer=signer, payload=bundle.payload)


def _parse(payload: bytes, model: type[P], what: str) -> Statement[P]:
    """Parse verified payload bytes as a statement carrying ``model``'s predicate."""
    try:
        return parse_statement(payload, model)
    except StatementError as exc:
        reason = {
            "statement": Reason.MALFORMED_STATEMENT,
            "predicate-type": Reason.WRONG_PREDICATE,
            "predicate": Reason.MALFORMED_PREDICATE,
        }[exc.kind]
        raise VerificationError(f"{what}: {exc}", reason=reason) from None


def _read_signature(path: Path, what: str) -> bytes:
    if not path.exists():
        raise VerificationError(f"{what}: not found", reason=Reason.SIGNATURE_MISSING)
    try:
        return read_bounded(path, MAX_SIGNATURE_BYTES, what="signature file")
    except InputError as exc:
        raise VerificationError(str(exc), reason=Reason.MALFORMED_SIGNATURE) from None


def _parse_bundle(raw: bytes, what: str) -> DsseBundle:
    bundle = read_dsse_bundle(raw, what)
    if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationError(
            f"{what}: payload type {bundle.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE}",
            reason=Reason.MALFORMED_SIGNATURE,
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
            reason=Reason.BAD_SIGNATURE,
        )
    raise VerificationError(
        f"{what}: not signed by any key the trust policy allows for '{env.name}'",
        reason=Reason.UNTRUSTED_SIGNER,
        hint="allowed keys: " + (", ".join(k for k, _ in env.keys) or "none"),
    )


def _verify_with_ca(
    bundle: DsseBundle, env: ResolvedEnvironment, what: str, now: dt.datetime | None
) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    chain = load_chain(bundle.certificate_chain, what)
    leaf = chain[0]
    moment = now or dt.datetime.now(dt.UTC)
    refusals = []
    for ca, roots in env.authorities:
        refusal = verify_chain(leaf, chain[1:], roots, moment)
        if refusal is not None:
            refusals.append(f"{ca.id}: {refusal}")
            continue
        key = leaf.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not verify_pae(
            key, bundle.signature, bundle.payload_type, bundle.payload
        ):
            raise VerificationError(
                f"{what}: the signature does not verify with the certificate's key",
                reason=Reason.BAD_SIGNATURE,
            )
        if not can_sign(leaf):
            raise VerificationError(
                f"{what}: the certificate is not for digital signatures",
                reason=Reason.UNTRUSTED_SIGNER,
            )
        names = san_values(leaf)
        if ca.identities and not names & set(ca.identities):
            raise VerificationError(
                f"{what}: certificate identity {sorted(names)} is not allowed by CA '{ca.id}'",
                reason=Reason.IDENTITY_MISMATCH,
            )
        return f"ca:{ca.id}:{','.join(sorted(names))}"
    raise VerificationError(
        f"{what}: the certificate does not chain to a CA the trust policy allows for '{env.name}'",
        reason=Reason.UNTRUSTED_SIGNER,
        hint="; ".join(refusals) or None,
    )


def _verify_keyless(raw: bytes, env: ResolvedEnvironment, what: str) -> str:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    if not env.identities or env.trusted_root is None:
        raise VerificationError(
            f"{what}: keyless signature, but '{env.name}' allows no keyless identity",
            reason=Reason.UNTRUSTED_SIGNER,
        )
    try:
        bundle = Bundle.from_json(raw)
    except SigstoreError as exc:
        raise VerificationError(
            f"{what}: not a valid keyless Sigstore bundle ({exc})",
            reason=Reason.MALFORMED_SIGNATURE,
        ) from None
    # Bounded and regular-file-only first; sigstore's own reader then reads the same file.
    read_bounded(env.trusted_root, MAX_TRUSTED_ROOT_BYTES, what="trusted root")
    try:
        root = TrustedRoot.from_file(str(env.trusted_root))
    except Exception as exc:  # OSError, JSON or pydantic errors: all mean "not a usable root"
        raise InputError(f"{env.trusted_root}: not a Sigstore trusted root ({exc})") from None
    judge = _IdentityJudge(env, policy)
    try:
        Verifier(trusted_root=root).verify_dsse(bundle, judge)
    except SigstoreError as exc:
        if judge.reason is not None:
            raise VerificationError(f"{what}: {judge.message}", reason=judge.reason) from None
        raise VerificationError(
            f"{what}: keyless verification failed: {exc}", reason=Reason.BAD_SIGNATURE
        ) from None
    return judge.accepted or "keyless"


class _IdentityJudge:
    """A sigstore VerificationPolicy that also records *why* an identity was refused."""

    def __init__(self, env: ResolvedEnvironment, policy_module: Any) -> None:
        self._env = env
        self._policy = policy_module
        self.reason: Reason | None = None
        self.message = ""
        self.accepted: str | None = None

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError as SigstoreVerificationError

        wrong_source: list[str] = []
        for ident in self._env.identities:
            try:
                self._policy.Identity(identity=ident.san, issuer=ident.issuer).verify(cert)
            except SigstoreVerificationError:
                continue
            mismatch = _source_mismatch(cert, ident)
            if mismatch is not None:
                wrong_source.append(mismatch)
                continue
            self.accepted = f"keyless:{ident.san} ({ident.issuer})"
            return
        names = san_values(cert)
        if wrong_source:
            self.reason = Reason.SOURCE_MISMATCH
            self.message = (
                f"keyless identity {sorted(names)} signed from {wrong_source[0]}, which "
                f"'{self._env.name}' does not allow for it"
            )
        elif any(ident.san in names for ident in self._env.identities):
            self.reason = Reason.ISSUER_MISMATCH
            self.message = (
                f"identity {sorted(names)} is allowed only with another OIDC issuer "
                f"in '{self._env.name}'"
            )
        else:
            self.reason = Reason.IDENTITY_MISMATCH
            self.message = (
                f"keyless identity {sorted(names)} is not allowed to sign for '{self._env.name}'"
            )
        raise SigstoreVerificationError(self.message)


#: Fulcio certificate extensions (sigstore/fulcio docs/oid-info.md), DER UTF8String values.
OID_SOURCE_REPOSITORY_URI = "1.3.6.1.4.1.57264.1.12"
OID_SOURCE_REPOSITORY_REF = "1.3.6.1.4.1.57264.1.14"


def _source_mismatch(cert: x509.Certificate, ident: KeylessIdentity) -> str | None:
    """Say how ``cert``'s source repository (and ref) differ from what ``ident`` pins, or None."""
    pins = (
        ("source repository", OID_SOURCE_REPOSITORY_URI, ident.source_repository),
        ("source ref", OID_SOURCE_REPOSITORY_REF, ident.source_ref),
    )
    for what, oid, wanted in pins:
        if wanted is None:
            continue
        actual = fulcio_string(cert, oid)
        if actual != wanted:
            return f"{what} {actual!r}" if actual is not None else f"no {what}"
    return None


def fulcio_string(cert: x509.Certificate, oid: str) -> str | None:
    """Return a Fulcio v2 extension's value (a DER UTF8String), or None if absent/malformed."""
    from cryptography import x509 as _x509

    try:
        ext = cert.extensions.get_extension_for_oid(_x509.ObjectIdentifier(oid))
    except _x509.ExtensionNotFound:
        return None
    value = ext.value
    raw = value.value if isinstance(value, _x509.UnrecognizedExtension) else b""
    if len(raw) < 2 or raw[0] != 0x0C:  # UTF8String
        return None
    length, offset = raw[1], 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes
        count = length & 0x7F
        if count == 0 or count > 4 or len(raw) < 2 + count:
            return None
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    if len(raw) != offset + length:
        return None
    try:
        return raw[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check_bundle_statement(tree: BundleTree, statement: Statement[ModelSigningPredicate]) -> None:
    predicate = statement.predicate
    if len(statement.subject) != 1:
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed statement must name exactly one subject",
            reason=Reason.MALFORMED_STATEMENT,
        )
    (subject,) = statement.subject
    if resources_root_digest(predicate.resources) != subject.sha256:
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed resources do not hash to the signed subject",
            reason=Reason.MALFORMED_STATEMENT,
        )
    broad = sorted(set(predicate.serialization.ignore_paths) - set(SIGNATURE_IGNORE_PATHS))
    if broad:
        # Our own checks never read ignore_paths, but model-signing's verifier skips them: a
        # statement that hides more than the signature and attestation files from it is
        # refused, so no verifier accepts an unsigned file we would not.
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed statement tells other verifiers to skip {broad}",
            reason=Reason.IGNORE_PATHS_TOO_BROAD,
            hint="re-sign the bundle with this nexusctl (`policy sign`)",
        )
    expected = bundle_resources(tree.contents, tree.digest.removeprefix("sha256:"))
    if subject.name != tree.manifest.name:
        raise VerificationError(
            f"{SIGNATURE_NAME}: signature is for bundle '{subject.name}', this is "
            f"'{tree.manifest.name}'",
            reason=Reason.SUBJECT_MISMATCH,
        )
    signed_by_name = {r.name: r for r in predicate.resources}
    expected_by_name = {r.name: r for r in expected}
    if (
        set(signed_by_name) == set(expected_by_name)
        and signed_by_name[MANIFEST_NAME] != expected_by_name[MANIFEST_NAME]
    ):
        raise VerificationError(
            f"{SIGNATURE_NAME}: manifest.json is not the manifest that was signed",
            reason=Reason.MANIFEST_NOT_SIGNED,
        )
    if predicate.resources != expected:
        raise VerificationError(
            f"{SIGNATURE_NAME}: the signed files are not this bundle's files",
            reason=Reason.SUBJECT_MISMATCH,
        )


def _check_gates_passed(predicate: RoutingDiffPredicate) -> None:
    """A required routing diff must record that every gate passed (a failed diff is evidence,
    not permission)."""
    if not predicate.passed:
        failed = predicate.failed_gates()
        raise VerificationError(
            "the routing-diff attestation records failed gates"
            + (f": {', '.join(failed)}" if failed else ""),
            reason=Reason.ROUTING_DIFF_FAILED,
        )
