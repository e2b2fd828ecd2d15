"""Show what a bundle holds and what its signatures say, without judging any of it.

``inspect_bundle`` reads a bundle folder the way ``policy verify`` starts (the tree against
its manifest: every file present, intact, nothing extra), then decodes the signature and the
attestations *without* checking a signature, a certificate chain or a trust policy: the
signer it reports is the one the bundle claims. It exists so nobody has to base64-decode a
DSSE payload to see the manifest, the signer, the provenance or a routing-diff verdict;
``policy verify`` is what decides whether any of it is trustworthy.

Every read is bounded (the signature files by ``verify.MAX_SIGNATURE_BYTES``, the JSON by
``loads_strict``'s limits), and a malformed file is refused with the same reason codes
verification uses.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from nexusctl.bundle import ATTESTATIONS_DIR, SIGNATURE_NAME, check_tree
from nexusctl.document import FrozenModel
from nexusctl.document.strict_json import JsonLimitError, loads_strict
from nexusctl.errors import VerificationError
from nexusctl.files import read_bounded
from nexusctl.signing._pki import load_chain, san_values
from nexusctl.signing._reader import MAX_BUNDLE_CONTAINERS, DsseBundle, read_dsse_bundle
from nexusctl.signing.verify import MAX_SIGNATURE_BYTES
from nexusctl.statements import (
    AttestedGate,
    AttestedPolicy,
    Reason,
    RoutingDiffPredicate,
    SlsaProvenance,
    StatementError,
    parse_statement,
)

if TYPE_CHECKING:
    from cryptography import x509

NOT_VERIFIED = "inspect does not verify; run policy verify"

#: Fulcio's OIDC issuer extensions: v2 (DER UTF8String) and the deprecated v1 (raw bytes).
_OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_OID_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"


class InspectedFile(FrozenModel):
    """One file of the manifest."""

    path: str
    role: str
    sha256: str
    size: int


class TlogEntry(FrozenModel):
    """A transparency-log entry the signature carries (keyless signatures)."""

    log_index: int
    integrated_time: str = Field(description="RFC 3339 UTC time the log says it integrated.")


class InspectedSigner(FrozenModel):
    """Who the signature file says signed (claimed, not verified)."""

    mode: Literal["key", "certificate", "keyless"] = Field(
        description="key: a public-key hint; certificate: a private-PKI chain; keyless: a "
        "Fulcio certificate."
    )
    key_hint: str | None = Field(default=None, description="publicKey.hint (local-key mode).")
    subject: str | None = Field(default=None, description="Leaf certificate subject (RFC 4514).")
    certificate_issuer: str | None = Field(
        default=None, description="Leaf certificate issuer (RFC 4514)."
    )
    identities: list[str] = Field(
        default_factory=list, description="The leaf's SANs (email, URI, DNS), sorted."
    )
    oidc_issuer: str | None = Field(
        default=None, description="Fulcio's OIDC issuer extension (keyless)."
    )
    not_before: str | None = None
    not_after: str | None = None
    tlog_entries: list[TlogEntry] = Field(default_factory=list)

    def describe(self) -> str:
        """One line naming the signer as ``policy verify`` would (but unverified)."""
        if self.mode == "key":
            return f"key hint {self.key_hint or '(none)'}"
        names = ", ".join(self.identities) or self.subject or "(no identity)"
        if self.mode == "keyless":
            return f"keyless {names} (OIDC issuer {self.oidc_issuer or 'unknown'})"
        return f"certificate {names} (issued by {self.certificate_issuer})"


class InspectedSignature(FrozenModel):
    """A signature file: the signer it names and what its statement is about."""

    file: str
    predicate_type: str | None
    signer: InspectedSigner


class InspectedProvenance(FrozenModel):
    """The SLSA provenance attestation's source and builder."""

    signature: InspectedSignature
    builder_id: str
    repository: str | None = None
    commit: str | None = None
    path: str | None = None
    dirty: bool | None = None


class InspectedRoutingDiff(FrozenModel):
    """The routing-diff attestation (``simulate --attest``): the comparison and its verdict."""

    signature: InspectedSignature
    baseline: AttestedPolicy
    candidate: AttestedPolicy
    traffic_sha256: str
    requests: int
    decisions_changed: int
    spend_micro_usd: dict[str, int]
    passed: bool
    gates: list[AttestedGate]


class BundleInspection(FrozenModel):
    """What ``nexusctl policy inspect`` reports: contents and claims, never a trust verdict."""

    verified: Literal[False] = Field(
        default=False, description="Always false: inspect does not verify signatures or trust."
    )
    note: str = NOT_VERIFIED
    bundle: str
    name: str
    digest: str = Field(description="sha256:<hex> of manifest.json (the bundle digest).")
    policy: str = Field(description="NAME@VERSION of the bundled policy.")
    catalog: str = Field(description="NAME@VERSION of the bundled catalog.")
    files: list[InspectedFile]
    signature: InspectedSignature | None = None
    provenance: InspectedProvenance | None = None
    routing_diff: InspectedRoutingDiff | None = None
    other_attestations: list[str] = Field(
        default_factory=list, description="Attestation files of kinds inspect does not decode."
    )


def inspect_bundle(bundle_dir: Path) -> BundleInspection:
    """Describe ``bundle_dir``: manifest, signer, provenance, routing diff (nothing verified).

    Raises:
        InputError: ``bundle_dir`` is not a folder, or a signature file is unreadable.
        VerificationError: the files do not match the manifest, or a signature or attestation
            file is not a well-formed Sigstore bundle / in-toto statement.
    """
    tree = check_tree(bundle_dir)
    manifest = tree.manifest
    files = [
        InspectedFile(path=f.path, role=f.role, sha256=f.sha256, size=f.size)
        for f in manifest.files
    ]
    signature = None
    if tree.has_signature:
        signature, _ = _signature(bundle_dir, SIGNATURE_NAME)
    provenance = routing_diff = None
    others: list[str] = []
    for rel in tree.attestations:
        if rel == f"{ATTESTATIONS_DIR}/provenance.sigstore.json":
            provenance = _provenance(bundle_dir, rel)
        elif rel == f"{ATTESTATIONS_DIR}/routing-diff.sigstore.json":
            routing_diff = _routing_diff(bundle_dir, rel)
        else:
            others.append(rel)
    return BundleInspection(
        bundle=str(bundle_dir),
        name=manifest.name,
        digest=tree.digest,
        policy=f"{manifest.policy.name}@{manifest.policy.version}",
        catalog=f"{manifest.catalog.name}@{manifest.catalog.version}",
        files=files,
        signature=signature,
        provenance=provenance,
        routing_diff=routing_diff,
        other_attestations=others,
    )


def _signature(bundle_dir: Path, rel: str) -> tuple[InspectedSignature, bytes]:
    raw = read_bounded(bundle_dir / rel, MAX_SIGNATURE_BYTES, what="signature file")
    parsed = read_dsse_bundle(raw, rel)
    statement = _json(parsed.payload, rel)
    predicate_type = statement.get("predicateType") if isinstance(statement, dict) else None
    signer = _signer(parsed, _tlog_entries(raw), rel)
    inspected = InspectedSignature(
        file=rel,
        predicate_type=predicate_type if isinstance(predicate_type, str) else None,
        signer=signer,
    )
    return inspected, parsed.payload


def _provenance(bundle_dir: Path, rel: str) -> InspectedProvenance:
    signature, payload = _signature(bundle_dir, rel)
    predicate = _statement(payload, SlsaProvenance, rel)
    source = predicate.build_definition.external_parameters.get("source")
    source = source if isinstance(source, dict) else {}

    def text(key: str) -> str | None:
        value = source.get(key)
        return value if isinstance(value, str) else None

    dirty = source.get("dirty")
    return InspectedProvenance(
        signature=signature,
        builder_id=predicate.run_details.builder.id,
        repository=text("repository"),
        commit=text("commit"),
        path=text("path"),
        dirty=dirty if isinstance(dirty, bool) else None,
    )


def _routing_diff(bundle_dir: Path, rel: str) -> InspectedRoutingDiff:
    signature, payload = _signature(bundle_dir, rel)
    p = _statement(payload, RoutingDiffPredicate, rel)
    return InspectedRoutingDiff(
        signature=signature,
        baseline=p.baseline,
        candidate=p.candidate,
        traffic_sha256=p.traffic_sha256,
        requests=p.requests,
        decisions_changed=p.decisions_changed,
        spend_micro_usd=p.spend_micro_usd,
        passed=p.passed,
        gates=p.gates,
    )


def _statement(payload: bytes, model: type[Any], rel: str) -> Any:
    try:
        return parse_statement(payload, model).predicate
    except StatementError as exc:
        raise VerificationError(
            f"{rel}: the signed statement is not what its name says ({exc})",
            reason=Reason.MALFORMED_SIGNATURE,
        ) from None


def _json(data: bytes, what: str) -> Any:
    try:
        return loads_strict(data, max_containers=MAX_BUNDLE_CONTAINERS)
    except JsonLimitError as exc:
        raise VerificationError(
            f"{what}: the payload is not JSON ({exc})", reason=Reason.MALFORMED_SIGNATURE
        ) from None


def _tlog_entries(raw: bytes) -> list[TlogEntry]:
    # read_dsse_bundle already accepted this JSON and checked tlogEntries is a list.
    doc = loads_strict(raw, max_containers=MAX_BUNDLE_CONTAINERS)
    entries = []
    for entry in doc["verificationMaterial"]["tlogEntries"]:
        if not isinstance(entry, dict):
            continue
        index, when = entry.get("logIndex"), entry.get("integratedTime")
        # protobuf JSON writes int64 as strings.
        if isinstance(index, str | int) and isinstance(when, str | int):
            try:
                seconds = int(when)
                stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
                entries.append(
                    TlogEntry(
                        log_index=int(index),
                        integrated_time=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    )
                )
            except (ValueError, OverflowError, OSError):
                continue
    return entries


def _signer(parsed: DsseBundle, tlog: list[TlogEntry], rel: str) -> InspectedSigner:
    if parsed.public_key_hint is not None or not (parsed.certificate or parsed.certificate_chain):
        return InspectedSigner(mode="key", key_hint=parsed.public_key_hint or None)
    if parsed.certificate is not None:
        (leaf,) = load_chain((parsed.certificate,), rel)
        mode: Literal["certificate", "keyless"] = "keyless"
    else:
        leaf = load_chain(parsed.certificate_chain, rel)[0]
        mode = "certificate"
    oidc_issuer = _oidc_issuer(leaf)
    if oidc_issuer is not None:
        mode = "keyless"
    return InspectedSigner(
        mode=mode,
        subject=leaf.subject.rfc4514_string(),
        certificate_issuer=leaf.issuer.rfc4514_string(),
        identities=sorted(san_values(leaf)),
        oidc_issuer=oidc_issuer,
        not_before=leaf.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        not_after=leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        tlog_entries=tlog,
    )


def _oidc_issuer(cert: x509.Certificate) -> str | None:
    from cryptography import x509

    for oid, der in ((_OID_ISSUER_V2, True), (_OID_ISSUER_V1, False)):
        try:
            ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
        except x509.ExtensionNotFound:
            continue
        value = ext.value
        data = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        if der:
            # A DER UTF8String: tag 0x0C, then a short or long-form length (X.690 §8.1.3).
            if len(data) < 2 or data[0] != 0x0C:
                continue
            length, offset = data[1], 2
            if length & 0x80:
                count = length & 0x7F
                length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
            data = data[offset : offset + length]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def inspection_text(report: BundleInspection) -> str:
    """Render ``report`` for a terminal or a log (plain text, no markup)."""
    lines = [
        NOT_VERIFIED,
        f"bundle {report.name} {report.digest}",
        f"  policy {report.policy}, catalog {report.catalog}",
        f"files ({len(report.files)}):",
    ]
    lines += [f"  {f.sha256[:16]}  {f.size:>9} B  {f.role:<12} {f.path}" for f in report.files]
    if report.signature is None:
        lines.append("signature: none (run policy sign)")
    else:
        lines += _signature_lines("signature", report.signature)
    if report.provenance is not None:
        prov = report.provenance
        lines += _signature_lines("provenance", prov.signature)
        if prov.repository is not None:
            state = {True: "dirty", False: "clean", None: "state unknown"}[prov.dirty]
            lines.append(f"  source {prov.repository}")
            lines.append(f"  commit {prov.commit} ({state})")
            if prov.path is not None:
                lines.append(f"  path {prov.path}")
        else:
            lines.append("  source: none recorded (attested with --no-source)")
        lines.append(f"  builder {prov.builder_id}")
    if report.routing_diff is not None:
        diff = report.routing_diff
        lines += _signature_lines("routing diff", diff.signature)
        for side, policy in (("baseline", diff.baseline), ("candidate", diff.candidate)):
            lines.append(
                f"  {side} {policy.name}@{policy.version} policy sha256:{policy.policy_sha256[:16]}"
                + (f" bundle {policy.bundle_digest}" if policy.bundle_digest else "")
            )
        lines.append(
            f"  {diff.requests} requests, {diff.decisions_changed} decisions changed, "
            f"traffic sha256:{diff.traffic_sha256[:16]}"
        )
        spend = diff.spend_micro_usd
        if {"baseline", "candidate"} <= spend.keys():
            lines.append(
                f"  spend {_usd(spend['baseline'])} -> {_usd(spend['candidate'])} "
                f"({_usd(spend['candidate'] - spend['baseline'], signed=True)})"
            )
        lines.append(f"  verdict {'PASS' if diff.passed else 'FAIL'}")
        for gate in diff.gates:
            mark = "pass" if gate.passed else "FAIL"
            value = gate.value if gate.value is not None else "n/a"
            lines.append(f"    {mark} {gate.name}: {value} {gate.comparison} {gate.threshold}")
    for rel in report.other_attestations:
        lines.append(f"attestation {rel} (kind not decoded)")
    return "\n".join(lines)


def _signature_lines(title: str, sig: InspectedSignature) -> list[str]:
    lines = [f"{title} ({sig.file}):", f"  claimed signer: {sig.signer.describe()}"]
    if sig.signer.not_before is not None:
        lines.append(f"  certificate valid {sig.signer.not_before} to {sig.signer.not_after}")
    for entry in sig.signer.tlog_entries:
        lines.append(f"  transparency log entry {entry.log_index} at {entry.integrated_time}")
    if sig.predicate_type is not None:
        lines.append(f"  predicate {sig.predicate_type}")
    return lines


def _usd(micro: int, *, signed: bool = False) -> str:
    sign = "-" if micro < 0 else ("+" if signed else "")
    cents = (abs(micro) + 5_000) // 10_000  # round half up to the cent, for reading
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"
