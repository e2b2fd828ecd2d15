"""TUF root rotation: each environment's TUF root follows the config's admins and releasers.

Every environment's root trusts the registry admins for the root role (their threshold) and
the releasers' keys for targets, snapshot and timestamp (threshold 1). ``registry init`` writes
``1.root.json``. A config change that alters those keys or thresholds proposes root N+1 for
each environment (python-tuf's Metadata API, never hand-written JSON), kept beside the proposed
config until ``config apply`` moves it into ``tuf/<env>/metadata/``. It counts only when signed
by a threshold of root N's root keys *and* a threshold of its own (TUF specification §5.3.4 and
§5.3.5: what ``ngclient`` checks when it walks root versions, and what ``registry verify``
checks). An environment a config change adds gets its ``1.root.json`` the same way (its own
threshold only).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry._store import CONFIG, TUF, Store, config_name
from nexusctl.registry.config import RegistryConfig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
    from securesystemslib.signer import SSlibKey
    from tuf.api.metadata import Metadata, Root, VerificationResult

ROOT_EXPIRY = dt.timedelta(days=365)
#: The largest TUF metadata file the registry reads from its tree (targets list live bundles).
MAX_TUF_BYTES = 16 * 1024 * 1024
#: ``registry verify`` warns when a root expires sooner than this (renew with
#: ``config propose --renew-roots``): gateways refuse an expired root.
ROOT_RENEW_BEFORE = dt.timedelta(days=90)
ROLES = ("targets", "snapshot", "timestamp")
_ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json$")
_KEYS: dict[str, SSlibKey] = {}


def root_for(config: RegistryConfig, version: int, expires: dt.datetime) -> Root:
    """Return the root ``config`` implies: admins sign root; the releasers' keys and the
    ``tufKeys`` sign targets, snapshot and timestamp (a releaser named by a certificate or
    keyless identity holds no TUF key: it promotes with a ``tufKeys`` key).
    """
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from tuf.api.metadata import Role, Root

    pems = {k.id: k.pem for k in config.spec.keys}
    root = Root(version=version, expires=expires, consistent_snapshot=True)
    root.roles["root"] = Role([], config.spec.admins.threshold)
    for admin in config.spec.admins.keys:
        root.add_key(_tuf_key(pems[admin]), "root")
    for role in ROLES:
        root.roles[role] = Role([], 1)
        for signer in [*config.spec.releasers, *config.spec.tuf_keys]:
            if signer in pems:
                root.add_key(_tuf_key(pems[signer]), role)
    return root


def expected_root(config: RegistryConfig) -> Root:
    """Return a root with what ``config`` says the TUF roles trust (version and expiry are
    placeholders: only ``trusted`` of it is compared)."""
    return root_for(config, 1, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


def trusted(root: Root) -> dict[str, object]:
    """Return what a root trusts, independent of order: its keys and each role's keys."""
    return {
        "keys": {keyid: key.to_dict() for keyid, key in sorted(root.keys.items())},
        "roles": {
            name: [sorted(role.keyids), role.threshold] for name, role in sorted(root.roles.items())
        },
        "consistent_snapshot": root.consistent_snapshot,
    }


def _tuf_key(pem: str) -> SSlibKey:
    if pem not in _KEYS:
        from securesystemslib.signer import SSlibKey

        from nexusctl.signing.keys import load_public_key

        _KEYS[pem] = SSlibKey.from_crypto(load_public_key(pem.encode(), "registry key"))
    return _KEYS[pem]


def metadata_dir(store: Store, env: str) -> Path:
    """Return ``tuf/<env>/metadata`` in the clone."""
    return store.root / TUF / env / "metadata"


def root_versions(folder: Path) -> list[int]:
    """Return the versions of the ``N.root.json`` files in ``folder``, ascending."""
    if not folder.is_dir():
        return []
    found = (_ROOT_FILE.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def read_root(path: Path, what: str) -> Metadata[Root]:
    """Parse a root metadata file.

    Raises:
        VerificationError: ``tuf-mismatch``: missing or not TUF root metadata.
    """
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from tuf.api.metadata import Metadata, Root
    from tuf.api.serialization import DeserializationError

    try:
        from nexusctl.registry.records import read_record

        return Metadata[Root].from_bytes(read_record(path, what, MAX_TUF_BYTES, "tuf-mismatch"))
    except (OSError, DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"{what}: {path.name}: {exc}", reason="tuf-mismatch") from None


def check_root(
    previous: Metadata[Root] | None, new: Metadata[Root], expected: Root, where: str
) -> None:
    """Check ``new`` as the next root after ``previous`` (None: a first root).

    It must have the next version, trust exactly what ``expected`` trusts, and be signed by a
    threshold of ``previous``'s root keys and a threshold of its own.

    Raises:
        VerificationError: ``tuf-mismatch`` (version or keys), ``tuf-root-threshold``.
    """
    version = previous.signed.version + 1 if previous is not None else 1
    if new.signed.version != version:
        raise VerificationError(
            f"{where}: has version {new.signed.version}, expected {version}", reason="tuf-mismatch"
        )
    if trusted(new.signed) != trusted(expected):
        raise VerificationError(
            f"{where}: does not trust the keys the config names", reason="tuf-mismatch"
        )
    result = new.signed.get_root_verification_result(
        previous.signed if previous is not None else None, new.signed_bytes, new.signatures
    )
    if not result.verified:
        raise VerificationError(
            f"{where}: {_shortfall(previous, result.first, result.second)}",
            reason="tuf-root-threshold",
        )


def _shortfall(
    previous: Metadata[Root] | None, first: VerificationResult, second: VerificationResult
) -> str:
    parts = []
    if previous is not None:
        parts.append(f"{len(first.signed)} of root v{previous.signed.version}'s {first.threshold}")
    parts.append(f"{len(second.signed)} of its own {second.threshold}")
    return "signed by " + " and ".join(parts) + " root signatures"


# -- proposals (config propose / sign / apply) ---------------------------------------------


def proposal_dir(version: int) -> str:
    """Return the folder holding the roots proposed with config ``version``."""
    return f"{CONFIG}/proposed/{config_name(version).removesuffix('.yaml')}.tuf"


@dataclass(frozen=True)
class RootProposal:
    """A proposed root for one environment, and how far its signatures go."""

    environment: str
    version: int
    previous: Metadata[Root] | None
    metadata: Metadata[Root]

    def signatures(self) -> tuple[int, int, int, int]:
        """Return (signed by the previous root, its threshold, by its own, its threshold)."""
        result = self.metadata.signed.get_root_verification_result(
            self.previous.signed if self.previous is not None else None,
            self.metadata.signed_bytes,
            self.metadata.signatures,
        )
        first, second = result.first, result.second
        return len(first.signed), first.threshold, len(second.signed), second.threshold


def needed_roots(
    store: Store, config: RegistryConfig, renew: bool = False
) -> dict[str, Metadata[Root] | None]:
    """Return the environments of ``config`` whose latest root does not trust what it names,
    each with that latest root (None: the environment has no root yet); with ``renew``, every
    environment (a root re-issued with the same keys renews its expiry)."""
    expected = trusted(expected_root(config))
    out: dict[str, Metadata[Root] | None] = {}
    for env in config.spec.environments:
        folder = metadata_dir(store, env.name)
        versions = root_versions(folder)
        if not versions:
            out[env.name] = None
            continue
        latest = read_root(folder / f"{versions[-1]}.root.json", f"{TUF}/{env.name}")
        if renew or trusted(latest.signed) != expected:
            out[env.name] = latest
    return out


def propose_roots(
    store: Store, config: RegistryConfig, version: int, now: dt.datetime, renew: bool = False
) -> list[RootProposal]:
    """Write the unsigned roots config ``version`` needs beside it (with ``renew``, every
    environment's, expiring ``ROOT_EXPIRY`` from ``now``); return them."""
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from tuf.api.metadata import Metadata

    out = []
    for env, previous in needed_roots(store, config, renew).items():
        number = previous.signed.version + 1 if previous is not None else 1
        metadata = Metadata(root_for(config, number, now + ROOT_EXPIRY))
        store.write(f"{proposal_dir(version)}/{env}/{number}.root.json", metadata.to_bytes())
        out.append(RootProposal(env, number, previous, metadata))
    return out


def proposed_roots(store: Store, version: int) -> list[RootProposal]:
    """Return the roots proposed with config ``version`` (in environment order of the files).

    Raises:
        VerificationError: ``tuf-mismatch``: a proposed or current root does not parse.
    """
    base = store.root / proposal_dir(version)
    out = []
    for env_dir in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        for number in root_versions(env_dir):
            metadata = read_root(env_dir / f"{number}.root.json", "proposed root")
            previous = None
            if number > 1:
                path = metadata_dir(store, env_dir.name) / f"{number - 1}.root.json"
                previous = read_root(path, f"{TUF}/{env_dir.name}")
            out.append(RootProposal(env_dir.name, number, previous, metadata))
    return out


def sign_roots(
    store: Store, version: int, private: ec.EllipticCurvePrivateKey
) -> list[RootProposal]:
    """Add this key's signature to each proposed root whose root role (or whose previous
    root's root role) holds it; return the roots it signed."""
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from securesystemslib.signer import CryptoSigner, SSlibKey

    keyid = SSlibKey.from_crypto(private.public_key()).keyid
    signed = []
    for proposal in proposed_roots(store, version):
        holders = set(proposal.metadata.signed.roles["root"].keyids)
        if proposal.previous is not None:
            holders |= set(proposal.previous.signed.roles["root"].keyids)
        if keyid not in holders:
            continue
        proposal.metadata.sign(CryptoSigner(private), append=True)
        rel = f"{proposal_dir(version)}/{proposal.environment}/{proposal.version}.root.json"
        store.write(rel, proposal.metadata.to_bytes())
        signed.append(proposal)
    return signed


def check_proposed_roots(store: Store, config: RegistryConfig, version: int) -> list[RootProposal]:
    """Check the roots proposed with config ``version``; return them (``config apply``).

    Besides the roots the config needs, a proposal may renew every other environment's root
    (``config propose --renew-roots``): the same keys, the next version, a later expiry.

    Raises:
        UsageError: the proposal does not hold exactly the roots the config needs (or, when
            it renews, every environment's).
        VerificationError: ``tuf-root-threshold`` or ``tuf-mismatch`` (see ``check_root``).
    """
    proposals = proposed_roots(store, version)
    proposed = sorted(p.environment for p in proposals)
    needed = needed_roots(store, config)
    if sorted(needed) != proposed:
        needed = needed_roots(store, config, renew=True)
    if sorted(needed) != proposed:
        raise UsageError(
            "the proposal's TUF roots do not match what the config needs",
            hint="propose the config again (`registry config propose`)",
        )
    expected = expected_root(config)
    for proposal in proposals:
        where = f"the proposed {TUF}/{proposal.environment} root v{proposal.version}"
        check_root(proposal.previous, proposal.metadata, expected, where)
    renewed = renewed_environments(proposals)
    for proposal in proposals:
        previous = proposal.previous
        stale = previous is not None and proposal.metadata.signed.expires <= previous.signed.expires
        if proposal.environment in renewed and stale:
            raise VerificationError(
                f"the proposed {TUF}/{proposal.environment} root v{proposal.version} renews "
                "nothing: it expires no later than the root it follows",
                reason="tuf-mismatch",
            )
    return proposals


def renewed_environments(proposals: list[RootProposal]) -> list[str]:
    """Return the environments whose proposed root trusts the same keys as the one before it:
    roots re-issued to renew their expiry, which the config record names."""
    return [
        p.environment
        for p in proposals
        if p.previous is not None and trusted(p.previous.signed) == trusted(p.metadata.signed)
    ]


def install_roots(store: Store, proposals: list[RootProposal]) -> None:
    """Write checked proposed roots into ``tuf/<env>/metadata/`` (before the commit)."""
    for proposal in proposals:
        rel = f"{TUF}/{proposal.environment}/metadata/{proposal.version}.root.json"
        store.write(rel, proposal.metadata.to_bytes())


def stale_environments(store: Store, proposals: list[RootProposal]) -> list[str]:
    """Return the environments whose current timestamp, snapshot or targets the new root no
    longer trusts (signed by a releaser the change removes): they must be signed again."""
    from nexusctl.registry._tufload import load_tuf

    load_tuf()
    from tuf.api.exceptions import UnsignedMetadataError
    from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp
    from tuf.api.serialization import DeserializationError

    stale = []
    for proposal in proposals:
        folder = metadata_dir(store, proposal.environment)
        if not (folder / "timestamp.json").is_file():
            continue
        root = proposal.metadata
        try:
            timestamp = Metadata[Timestamp].from_bytes((folder / "timestamp.json").read_bytes())
            number = timestamp.signed.snapshot_meta.version
            snapshot = Metadata[Snapshot].from_bytes(
                (folder / f"{number}.snapshot.json").read_bytes()
            )
            number = snapshot.signed.meta["targets.json"].version
            targets = Metadata[Targets].from_bytes((folder / f"{number}.targets.json").read_bytes())
            root.verify_delegate("timestamp", timestamp)
            root.verify_delegate("snapshot", snapshot)
            root.verify_delegate("targets", targets)
        except (OSError, ValueError, KeyError, DeserializationError, UnsignedMetadataError):
            stale.append(proposal.environment)
    return stale


# -- verify: the roots the config records justify -------------------------------------------


class RootChain:
    """The root each environment trusts, replayed along the init and config records."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.current: dict[str, Metadata[Root]] = {}

    def advance(self, config: RegistryConfig, renewed: list[str] | None = None) -> None:
        """Check the root files an init or config record implies, for each environment (and
        the next root of each environment in ``renewed``, re-issued with the same keys).

        Raises:
            VerificationError: ``tuf-mismatch`` (a root missing or trusting other keys),
                ``tuf-root-threshold`` (not signed by the previous root's and its own).
        """
        expected = expected_root(config)
        for env in config.spec.environments:
            previous = self.current.get(env.name)
            unchanged = previous is not None and trusted(previous.signed) == trusted(expected)
            if unchanged and env.name not in (renewed or []):
                continue
            number = previous.signed.version + 1 if previous is not None else 1
            rel = f"{TUF}/{env.name}/metadata/{number}.root.json"
            new = read_root(self.store.root / rel, rel)
            check_root(previous, new, expected, rel)
            self.current[env.name] = new

    def expiries(self) -> dict[str, dict[str, object]]:
        """Each environment's current root: its version and expiry (RFC 3339)."""
        from nexusctl.clock import format_rfc3339

        return {
            env: {"version": root.signed.version, "expires": format_rfc3339(root.signed.expires)}
            for env, root in self.current.items()
        }

    def final(self, env: str) -> Metadata[Root] | None:
        """Return the root ``env`` trusts now, after checking no later root file exists.

        Raises:
            VerificationError: ``tuf-mismatch``: a root no config record justifies.
        """
        root = self.current.get(env)
        have = root.signed.version if root is not None else 0
        extra = [v for v in root_versions(metadata_dir(self.store, env)) if v > have]
        if extra:
            raise VerificationError(
                f"{TUF}/{env}/metadata/{extra[0]}.root.json: no config record justifies it",
                reason="tuf-mismatch",
            )
        return root


def root_summary(proposals: list[RootProposal]) -> list[dict[str, object]]:
    """Return each proposed root's signature counts (for the CLI)."""
    out = []
    for proposal in proposals:
        by_previous, previous_threshold, by_own, own_threshold = proposal.signatures()
        out.append(
            {
                "environment": proposal.environment,
                "version": proposal.version,
                "previous_root": [by_previous, previous_threshold]
                if proposal.previous is not None
                else None,
                "own": [by_own, own_threshold],
            }
        )
    return out


def expiring_roots(roots: dict[str, dict[str, object]], now: dt.datetime) -> list[str]:
    """Of ``RootChain.expiries()``, the environments whose root expires within
    ``ROOT_RENEW_BEFORE`` of ``now`` (renew them with ``config propose --renew-roots``)."""
    from nexusctl.clock import parse_rfc3339

    soon = now + ROOT_RENEW_BEFORE
    return [env for env, root in roots.items() if parse_rfc3339(str(root["expires"])) < soon]
