"""Registry records: one signed in-toto Statement v1 per event, hash-chained, append-only.

Each record is a Sigstore bundle v0.3 (DSSE) made by ``nexusctl.signing.attest`` over a
statement with predicate ``https://nexuscore.io/attestation/promotion/v1``. The predicate names
the digest of the record file before it, so deleting, reordering or inserting a record breaks
the chain. Records are verified before they are parsed (``verify_signature_file``).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from nexusctl.document import FrozenModel
from nexusctl.errors import VerificationError
from nexusctl.statements import (
    PROMOTION_PREDICATE,
    PromotionPredicate,
)

if TYPE_CHECKING:
    from nexusctl.signing.signers import Signer
    from nexusctl.signing.trust import ResolvedEnvironment

#: Subject name of records about the registry itself (init, config changes).
CONFIG_SUBJECT = "registry-config"
MAX_RECORD_BYTES = 1024 * 1024


def sign_record(predicate: PromotionPredicate, signer: Signer) -> bytes:
    """Sign ``predicate`` as an in-toto statement; return the Sigstore bundle JSON bytes.

    Raises:
        InputError / EnvironmentError_: from the signer.
    """
    from nexusctl.signing import Subject, attest

    if predicate.bundle is not None:
        subject = Subject.of(predicate.bundle.name, predicate.bundle.digest)
    else:
        subject = Subject.of(CONFIG_SUBJECT, predicate.config_digest)
    return attest([subject], PROMOTION_PREDICATE, predicate.model_dump(mode="json"), signer)


def verify_record(
    path: Path, signers: ResolvedEnvironment, what: str, raw: bytes | None = None
) -> tuple[str, Any]:
    """Verify a record's signature against ``signers``; return (signer id, predicate).

    Raises:
        VerificationError: bad or untrusted signature, or not a promotion statement.
    """
    from nexusctl.signing.verify import verify_signature_bytes
    from nexusctl.statements import StatementError, parse_statement

    raw = path.read_bytes() if raw is None else raw
    signed = verify_signature_bytes(raw, _hinted_first(raw, signers), what=what)
    try:
        statement = parse_statement(signed.payload, PromotionPredicate)
    except StatementError as exc:
        reason = "wrong-predicate" if exc.kind == "predicate-type" else "malformed-record"
        raise VerificationError(f"{what}: not a promotion record ({exc})", reason=reason) from None
    return signed.signer.removeprefix("key:"), statement.predicate


def parse_predicate(raw: Any, what: str) -> PromotionPredicate:
    """Validate a record's predicate.

    Raises:
        VerificationError: ``malformed-record``.
    """
    try:
        return PromotionPredicate.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise VerificationError(
            f"{what}: malformed record ({where}: {first['msg']})", reason="malformed-record"
        ) from None


def read_unverified(raw: bytes, what: str) -> PromotionPredicate:
    """Parse a record's predicate without checking its signature (for local, fast queries).

    ``registry verify`` checks every signature; queries read what the clone holds.

    Raises:
        VerificationError: ``malformed-record``.
    """
    try:
        payload = base64.b64decode(json.loads(raw)["dsseEnvelope"]["payload"])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise VerificationError(f"{what}: not a signed record", reason="malformed-record") from None
    try:
        # pydantic-core parses the JSON and validates in one pass (these reads are the hot path
        # of status, promote and history).
        statement = _RecordStatement.model_validate_json(payload)
    except ValidationError:
        raise VerificationError(
            f"{what}: not a promotion record", reason="malformed-record"
        ) from None
    if statement.predicate_type != PROMOTION_PREDICATE:
        raise VerificationError(f"{what}: not a promotion record", reason="malformed-record")
    return statement.predicate


class _RecordStatement(FrozenModel):
    """The in-toto statement around a record's predicate (for ``read_unverified``)."""

    type_: str = Field(alias="_type")
    subject: list[dict[str, Any]]
    predicate_type: str = Field(alias="predicateType")
    predicate: PromotionPredicate


_HINTS: dict[int, str] = {}
#: (id of an environment, hint) -> (that environment, its keys in hinted order).
_ORDERED: dict[tuple[int, str], tuple[ResolvedEnvironment, ResolvedEnvironment]] = {}
_HINT = re.compile(rb'"hint"\s*:\s*"([0-9a-f]{64})"')


def _hinted_first(raw: bytes, signers: ResolvedEnvironment) -> ResolvedEnvironment:
    """Order ``signers`` so the key the record's hint names is tried first.

    Only the order changes: acceptance still needs a signature that verifies under a key of
    ``signers``, so a lying (or mis-found) hint costs time, never trust. That is also why a
    byte search is enough to find it: the bundle is parsed strictly when it is verified.
    """
    import dataclasses

    from nexusctl.signing.keys import key_hint

    found = _HINT.search(raw)
    if found is None:
        return signers
    hint = found.group(1).decode()
    known = _ORDERED.get((id(signers), hint))
    if known is not None and known[0] is signers:
        return known[1]
    for _, key in signers.keys:
        if id(key) not in _HINTS:
            _HINTS[id(key)] = key_hint(key)
    first = [entry for entry in signers.keys if _HINTS[id(entry[1])] == hint]
    rest = [entry for entry in signers.keys if entry not in first]
    ordered = dataclasses.replace(signers, keys=tuple(first + rest)) if first else signers
    _ORDERED[(id(signers), hint)] = (signers, ordered)
    return ordered


def read_record(
    path: Path | str, what: str, cap: int = MAX_RECORD_BYTES, reason: str = "malformed-record"
) -> bytes:
    """Read a record (or another file of the registry's tree): a regular file, not a symlink,
    of at most ``cap`` bytes. Someone with push access can commit a symlink to /dev/zero or a
    huge file; reading it must fail with ``reason``, not hang or take the machine's memory.

    ``nexusctl.files.read_bounded``'s rules with two system calls fewer: this runs 20,000 times
    in a large registry's verify.
    """
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise VerificationError(f"{what}: unreadable ({exc.strerror})", reason=reason) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VerificationError(f"{what}: not a regular file", reason=reason)
        chunks = []
        size = 0
        while chunk := os.read(fd, cap + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise VerificationError(f"{what}: larger than {cap} bytes", reason=reason)
    finally:
        os.close(fd)
    return b"".join(chunks)
