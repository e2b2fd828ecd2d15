"""Who signed a registry record: keys, private-PKI certificates and Sigstore keyless identities.

A record signed with a certificate is judged by ``policy verify``'s own code
(``nexusctl.signing.verify_signature_bytes``) against the config's identities, offline: the
chain must reach the identity's root (private PKI) or the trusted root's Fulcio (keyless, with
the Rekor entry checked), and the leaf's SAN (and OIDC issuer) must be the identity's. The
signer that verification reports is then mapped back to the identity's id; the record's own
``actor`` field is only compared with it, never believed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nexusctl.clock import parse_rfc3339
from nexusctl.errors import VerificationError
from nexusctl.registry.config import LoadedConfig, RegistryConfig, keys_as_environment

if TYPE_CHECKING:
    from nexusctl.signing.trust import ResolvedEnvironment

_ENVS: dict[tuple[str, str], ResolvedEnvironment] = {}


def identity_signers(loaded: LoadedConfig, root: Path) -> ResolvedEnvironment:
    """Return every key and identity of ``loaded`` as one verifier (cached per config).

    Identities sharing a root certificate form one certificate authority whose allowed SANs
    are theirs; the keyless ones use the config's trusted root, read from ``root``.

    Raises:
        InputError: a root certificate PEM is malformed.
        PolicyLoadError: the trusted root is outside the repository or missing.
    """
    import dataclasses

    from cryptography import x509

    from nexusctl.signing.trust import CertificateAuthority, KeylessIdentity

    cache = (loaded.digest, str(root))
    if cache in _ENVS:
        return _ENVS[cache]
    spec = loaded.config.spec
    base = keys_as_environment(loaded.config, None, f"registry:{loaded.config.metadata.name}")
    groups: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for ident in spec.identities:
        if ident.ca is not None:
            groups.setdefault(ident.ca, []).append(ident.san)
            first.setdefault(ident.ca, ident.id)
    authorities = []
    for pem, sans in groups.items():
        try:
            roots = tuple(x509.load_pem_x509_certificates(pem.encode()))
        except ValueError as exc:
            from nexusctl.errors import InputError

            raise InputError(f"identity '{first[pem]}': 'ca' is not PEM ({exc})") from None
        ca = CertificateAuthority(id=first[pem], path="<inline>", identities=sans)
        authorities.append((ca, roots))
    keyless = tuple(
        KeylessIdentity(san=i.san, issuer=i.issuer) for i in spec.identities if i.issuer
    )
    trusted_root = None
    if keyless and spec.trusted_root is not None:
        from nexusctl.document import resolve_inside
        from nexusctl.errors import Location

        where = Location(f"registry config ({root})")
        trusted_root = resolve_inside(root, root, spec.trusted_root, where)
        _check_pinned(trusted_root, spec.trusted_root_sha256)
    env = dataclasses.replace(
        base, identities=keyless, trusted_root=trusted_root, authorities=tuple(authorities)
    )
    _ENVS[cache] = env
    return env


def signer_id(config: RegistryConfig, signer: str) -> str:
    """Map what verification says signed (``key:ID``, ``ca:CA:SANS``, ``keyless:SAN (ISSUER)``)
    to the config's key or identity id; an unmapped signer comes back as is (and is in no
    quorum)."""
    if signer.startswith("key:"):
        return signer.removeprefix("key:")
    identities = config.spec.identities
    if signer.startswith("ca:"):
        _, ca_id, names_text = signer.split(":", 2)
        names = set(names_text.split(","))
        pem = next((i.ca for i in identities if i.id == ca_id), None)
        for ident in identities:
            if ident.ca is not None and ident.ca == pem and ident.san in names:
                return ident.id
    for ident in identities:
        if ident.issuer is not None and signer == f"keyless:{ident.san} ({ident.issuer})":
            return ident.id
    return signer


def verify_signed_record(
    raw: bytes, loaded: LoadedConfig, root: Path, what: str
) -> tuple[str, Any]:
    """Verify a record under ``loaded``'s keys and identities; return (signer id, predicate).

    A certificate chain is validated at the record's own time (the signature covers it).

    Raises:
        VerificationError: bad or untrusted signature, or not a promotion record.
    """
    from nexusctl.registry.records import read_unverified
    from nexusctl.signing.verify import verify_signature_bytes
    from nexusctl.statements import PromotionPredicate, StatementError, parse_statement

    moment: dt.datetime | None = None
    try:
        moment = parse_rfc3339(read_unverified(raw, what).time)
    except (VerificationError, ValueError):
        moment = None  # the signature check below names what is wrong
    signed = verify_signature_bytes(raw, identity_signers(loaded, root), now=moment, what=what)
    try:
        statement = parse_statement(signed.payload, PromotionPredicate)
    except StatementError as exc:
        reason = "wrong-predicate" if exc.kind == "predicate-type" else "malformed-record"
        raise VerificationError(f"{what}: not a promotion record ({exc})", reason=reason) from None
    return signer_id(loaded.config, signed.signer), statement.predicate


def _check_pinned(path: Path, sha256: str | None) -> None:
    import hashlib

    from nexusctl.files import read_bounded

    data = read_bounded(path, 4 * 1024 * 1024, what="Sigstore trusted root")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise VerificationError(
            f"{path.name}: the trusted root is not the one the config pins (trustedRootSha256)",
            reason="config-mismatch",
        )


def copy_trusted_root(config: RegistryConfig, config_path: Path) -> tuple[str, bytes] | None:
    """Return (path in the registry, bytes) of the trusted root the config names, read from
    beside ``config_path`` and checked against its pin; None when it names none.

    Raises:
        InputError: unreadable or outside the config's folder.
        VerificationError: ``config-mismatch``, the bytes are not the pinned ones.
    """
    from nexusctl.document import resolve_inside
    from nexusctl.errors import Location
    from nexusctl.files import read_bounded

    rel = config.spec.trusted_root
    if rel is None:
        return None
    base = config_path.parent
    source = resolve_inside(base, base, rel, Location(str(config_path)))
    _check_pinned(source, config.spec.trusted_root_sha256)
    return rel, read_bounded(source, 4 * 1024 * 1024, what="Sigstore trusted root")
