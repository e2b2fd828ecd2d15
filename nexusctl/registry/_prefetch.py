"""Check record signatures in worker processes while ``registry verify`` replays the log.

A record's signature and statement do not depend on the records before it, except for *which*
keys may sign it (the config in effect). Workers therefore verify every record against the
union of the keys of every config version in the repository (each named by its fingerprint),
in log order; the replay then accepts a prefetched result only when the fingerprint that
verified is a key of the config in effect, and takes the signer's id from that config (its
first key with that fingerprint, as the sequential check would). Anything else — no key
verified, a key of another config, a malformed statement — is checked again by the sequential
code, which names the failure exactly as before. So this changes how fast the checks run, never
what they accept.

Workers hand back the verified payload bytes, not a parsed predicate: pickling a pydantic model
across processes costs more than parsing it again, so the statement is parsed (strictly, once)
when the replay asks for it (``Prefetched.predicate``), exactly as the sequential check parses
it. A worker reads the payload only to find which extra check a record calls for (below); what
it finds there is a hint, never believed: the replay uses an extra result only when it matches
the check it makes itself.

Two costlier checks ride along, on the same terms. For a publish record the worker verifies the
stored bundle as ``Registry.check_signature`` would at the record's time (``verify_bundle``
under the first environment's trust-policy environment of each config version); for a
promotion or rollback it reads and parses its simulation evidence file, checking the file's
digest. The replay uses a result only when it was computed for exactly the check it is about to
make (same trust policy file and environment, same record time, same content digest) and it
passed; otherwise it runs the check itself, so failures are still named in log order.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import VerificationError
from nexusctl.registry.records import read_record

if TYPE_CHECKING:
    from nexusctl.registry.config import LoadedConfig
    from nexusctl.registry.gates import Evidence
    from nexusctl.signing.trust import ResolvedEnvironment
    from nexusctl.statements import PromotionPredicate

#: Below this many records the workers cost more than they save.
MIN_RECORDS = 1000
CHUNK = 128


@dataclass(frozen=True)
class StoredCheck:
    """A stored bundle that passed ``verify_bundle`` in a worker.

    ``policy`` is the trust policy's path in the registry (as the config names it),
    ``environment`` the trust-policy environment, ``time`` the record time it was verified at,
    ``digest`` the digest the verification computed, ``signer`` whom it names.
    """

    policy: str
    environment: str
    time: str
    digest: str
    signer: str


@dataclass(frozen=True)
class Prefetched:
    """A record whose signature verified under ``fingerprint``, with the payload it signs.

    ``stored`` (publish records) and ``evidence`` (promotions) are the extra checks that passed.
    """

    digest: str
    fingerprint: str | None
    payload: bytes
    stored: tuple[StoredCheck, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    @functools.cached_property
    def predicate(self) -> PromotionPredicate | None:
        """The signed statement's promotion predicate (None: not one; the replay names why).

        Parsed as the sequential check parses a verified payload (``parse_statement``).
        """
        from nexusctl.statements import PromotionPredicate, StatementError, parse_statement

        try:
            return parse_statement(self.payload, PromotionPredicate).predicate
        except StatementError:
            return None


_UNION: ResolvedEnvironment | None = None
#: (trust policy path as configs name it, trust-policy environment) -> its keys, for publishes.
_TRUST: dict[tuple[str, str], ResolvedEnvironment] = {}
_ROOT: Path | None = None


def fingerprints(config: LoadedConfig) -> dict[str, str]:
    """Return key fingerprint -> the first key id with it, in the config's order."""
    from nexusctl.signing.keys import key_hint

    out: dict[str, str] = {}
    for key_id, key in config.signers().keys:
        out.setdefault(key_hint(key), key_id)
    return out


def prefetch(
    paths: Sequence[Path | str], configs: list[LoadedConfig], root: Path | None = None
) -> Iterator[Prefetched | None]:
    """Yield one result per record of ``paths``, in order (None: check it sequentially).

    ``root`` is the registry (default: the folder above the records' folder).
    """
    workers = min(4, os.cpu_count() or 1)
    if len(paths) < MIN_RECORDS or workers < 2 or not configs:
        yield from (None for _ in paths)
        return
    import dataclasses
    import multiprocessing

    from nexusctl.signing.keys import key_hint

    global _UNION, _ROOT
    keys = {key_hint(key): key for config in configs for _, key in config.signers().keys}
    # Each key is named by its fingerprint: ids may name other keys in other versions.
    _UNION = dataclasses.replace(configs[0].signers(), keys=tuple(keys.items()))
    _ROOT = root if root is not None else Path(paths[0]).parent.parent
    _TRUST.clear()
    _TRUST.update(_publish_trust(configs, _ROOT))
    chunks = [
        [str(p) for p in paths[start : start + CHUNK]] for start in range(0, len(paths), CHUNK)
    ]
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        for chunk in pool.imap(_check_chunk, chunks):
            yield from chunk


def _publish_trust(
    configs: list[LoadedConfig], root: Path
) -> dict[tuple[str, str], ResolvedEnvironment]:
    """Resolve each config's first environment's trust-policy environment (those that load)."""
    from nexusctl.errors import NexusError
    from nexusctl.signing import load_trust_policy, resolve_environment

    out: dict[tuple[str, str], ResolvedEnvironment] = {}
    for config in configs:
        spec = config.config.spec
        key = (spec.trust_policy, spec.environments[0].trust_environment)
        if key in out:
            continue
        path = root / key[0]
        try:
            out[key] = resolve_environment(load_trust_policy(path), path.parent, key[1])
        except NexusError:
            continue  # the replay names the problem when a record relies on it
    return out


def parse_evidence(raw: bytes, digest: str) -> Evidence | None:
    """Parse an evidence file's bytes (already checked to have ``digest``), or None.

    The file is the routing-diff attestation whose signature the promotion verified; its
    statement is parsed with the same typed model the gate read then.
    """
    import base64

    from nexusctl.document.strict_json import JsonLimitError, loads_strict
    from nexusctl.registry.gates import Evidence
    from nexusctl.statements import RoutingDiffPredicate, StatementError, parse_statement

    try:
        payload = base64.b64decode(loads_strict(raw)["dsseEnvelope"]["payload"])
        statement = parse_statement(payload, RoutingDiffPredicate)
    except (JsonLimitError, StatementError, KeyError, TypeError, ValueError):
        return None
    return Evidence(digest=digest, predicate=statement.predicate)


def _check_chunk(paths: list[str]) -> list[Prefetched | None]:
    return [_check(p) for p in paths]


#: How a (canonical) payload names the events that call for an extra check.
_EXTRA_EVENTS = (b'"event":"publish"', b'"event":"promote"', b'"event":"rollback"')


def _check(path: str) -> Prefetched | None:
    import hashlib

    from nexusctl.errors import NexusError
    from nexusctl.registry.records import _hinted_first
    from nexusctl.signing.verify import verify_signature_bytes

    assert _UNION is not None
    name = os.path.basename(path)
    try:
        raw = read_record(path, name)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        signed = verify_signature_bytes(raw, _hinted_first(raw, _UNION), what=name)
    except (OSError, NexusError):
        return None
    payload = signed.payload
    stored: tuple[StoredCheck, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    # What the payload says is only a hint for which extra check to run: the replay takes a
    # result only for the very check it makes. Any failure here only means the replay checks
    # it itself (and names it exactly).
    if any(event in payload for event in _EXTRA_EVENTS):
        try:
            stored, evidence = _extras(payload)
        except Exception:
            stored, evidence = (), ()
    return Prefetched(digest, signed.signer.removeprefix("key:"), payload, stored, evidence)


def _extras(payload: bytes) -> tuple[tuple[StoredCheck, ...], tuple[Evidence, ...]]:
    """Run the extra check a publish or promotion record calls for (its bundle, its evidence)."""
    import json

    predicate = json.loads(payload)["predicate"]
    event = predicate["event"]
    if event == "publish":
        bundle = predicate["bundle"]
        return _check_stored(str(bundle["digest"]), str(predicate["time"])), ()
    if event in ("promote", "rollback"):
        digests = [
            str(g["evidence"])
            for g in predicate["gates"]
            if g["name"] == "simulation" and g.get("evidence")
        ]
        return (), _read_evidence(digests)
    return (), ()


def _check_stored(digest: str, time: str) -> tuple[StoredCheck, ...]:
    from nexusctl.clock import parse_rfc3339
    from nexusctl.errors import NexusError
    from nexusctl.registry._store import BUNDLES
    from nexusctl.signing import verify_bundle

    assert _ROOT is not None
    folder = _ROOT / BUNDLES / digest.removeprefix("sha256:")
    out = []
    for (policy, environment), env in _TRUST.items():
        try:
            report = verify_bundle(folder, env, now=parse_rfc3339(time))
        except (OSError, NexusError):
            continue
        out.append(StoredCheck(policy, environment, time, report.digest, report.signer))
    return tuple(out)


def _read_evidence(digests: list[str]) -> tuple[Evidence, ...]:
    import hashlib

    from nexusctl.registry._store import EVIDENCE

    assert _ROOT is not None
    out = []
    for digest in digests:
        path = _ROOT / EVIDENCE / (digest.removeprefix("sha256:") + ".json")
        try:
            raw = read_record(path, path.name)
        except VerificationError:
            continue
        if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            continue
        evidence = parse_evidence(raw, digest)
        if evidence is not None:
            out.append(evidence)
    return tuple(out)
