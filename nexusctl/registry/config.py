"""The registry's configuration (``kind: RegistryConfig``): its root of trust.

The config names the environments in promotion order, each with the trust-policy environment
that judges its bundle signatures, its gates, its approvers, soak time, freeze windows and TUF
pointer expiry; and the keys that may act on the registry (admins, releasers, approvers).
Keys are inline PEM so the signed config bytes alone say who may sign what.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from nexusctl.document import API_VERSION, Identifier, Metadata, Model

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from nexusctl.signing.trust import ResolvedEnvironment

GateName = Literal["order", "signature", "simulation", "approvals", "soak", "freeze"]
ALL_GATES: tuple[GateName, ...] = (
    "order",
    "signature",
    "simulation",
    "approvals",
    "soak",
    "freeze",
)
ROLLBACK_GATES: tuple[GateName, ...] = ("signature", "approvals")
MAX_CONFIG_BYTES = 1024 * 1024


class RegistryKey(Model):
    """A public key that may act on the registry (inline PEM, ECDSA P-256/P-384)."""

    id: Identifier = Field(description="Name recorded as the actor when this key signs.")
    pem: str = Field(description="PEM SubjectPublicKeyInfo public key.")


class RegistryIdentity(Model):
    """A certificate holder that may act on the registry, named by its certificate identity.

    Either a private-PKI identity (``ca``: the root certificate(s) its leaf must chain to) or a
    Sigstore keyless one (``issuer``: the OIDC issuer Fulcio recorded), each with the exact
    subject alternative name of the leaf, as a trust policy's certificate authorities and
    keyless identities describe them. Approvals signed with such a certificate are checked
    against this entry offline; the record's own ``actor`` field is never trusted.
    """

    id: Identifier = Field(description="Name recorded as the actor when this identity signs.")
    san: str = Field(description="Exact subject alternative name of the leaf (email/URI/DNS).")
    issuer: str | None = Field(
        default=None,
        description="Keyless: exact OIDC issuer URL (Fulcio extension 1.3.6.1.4.1.57264.1.1).",
    )
    ca: str | None = Field(
        default=None, description="Private PKI: inline PEM root certificate(s) the leaf chains to."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> RegistryIdentity:
        if (self.issuer is None) == (self.ca is None):
            raise ValueError("give exactly one of 'issuer' (keyless) or 'ca' (private PKI)")
        return self


class Quorum(Model):
    """A set of keys (by id) and how many distinct ones must sign."""

    keys: list[Identifier] = Field(
        default_factory=list,
        description="Key ids from spec.keys or identity ids from spec.identities.",
    )
    threshold: int = Field(default=0, ge=0, description="Distinct signatures required.")

    @model_validator(mode="after")
    def _reachable(self) -> Quorum:
        if self.threshold > len(set(self.keys)):
            raise ValueError(f"threshold {self.threshold} exceeds the {len(set(self.keys))} keys")
        return self


class FreezeWindow(Model):
    """A period in which promotions are refused unless overridden (RFC 3339 UTC bounds)."""

    start: dt.datetime = Field(description="Start, inclusive (RFC 3339 with offset).")
    end: dt.datetime = Field(description="End, exclusive (RFC 3339 with offset).")
    reason: str = Field(default="", description="Shown when a promotion is refused.")

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("freeze window bounds need an explicit offset (…Z)")
        if self.end <= self.start:
            raise ValueError("freeze window ends before it starts")
        return self


class TrafficSample(Model):
    """Recorded traffic a simulation attestation may replay, registered by digest."""

    name: Identifier
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the traffic file.")
    location: str | None = Field(
        default=None, description="Where the file is kept (path in the registry or a URL)."
    )


class RegistryEnvironment(Model):
    """One environment, in promotion order."""

    name: Identifier
    trust_environment: Identifier = Field(
        description="Environment of the trust policy that judges bundle signatures here."
    )
    gates: list[GateName] = Field(
        default_factory=lambda: list(ALL_GATES),
        description="Gates checked on promotion into this environment.",
    )
    rollback_gates: list[GateName] = Field(
        default_factory=lambda: list(ROLLBACK_GATES),
        description="Gates checked on rollback (default: signature and approvals).",
    )
    approvers: Quorum = Field(default_factory=Quorum, description="N of M approvers.")
    override_approvers: Quorum = Field(
        default_factory=Quorum, description="Approvals needed to promote inside a freeze window."
    )
    soak_seconds: int = Field(
        default=0, ge=0, description="Time the version must have been live in the previous env."
    )
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    pointer_expiry_seconds: int = Field(
        default=7 * 86400, ge=60, description="Expiry of this environment's TUF metadata."
    )
    approval_max_age_seconds: int = Field(
        default=7 * 86400, ge=60, description="Longest expiry an approval may carry."
    )
    traffic_samples: list[TrafficSample] = Field(default_factory=list)
    gates_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the simulation gates file attestations must have used.",
    )


class CommitSigner(Model):
    """An SSH key allowed to sign the registry's git commits (git's allowed-signers file)."""

    principal: str = Field(
        pattern=r"^[A-Za-z0-9._@+-]+$", description="Name the signature is checked under."
    )
    key: str = Field(
        pattern=r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|"
        r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+=*$",
        description="OpenSSH public key: its type and base64 body (no comment).",
    )

    def allowed_signers_line(self) -> str:
        """Return this signer as a line of git's ``gpg.ssh.allowedSignersFile``."""
        return f'{self.principal} namespaces="git" {self.key}'


class RegistrySpec(Model):
    """The body of a RegistryConfig."""

    trust_policy: str = Field(
        default="trust/trust.yaml",
        description="Trust policy file, relative to the repository. A config version that "
        "brings a new trust policy (`config propose --trust-policy`) names a new path.",
    )
    keys: list[RegistryKey] = Field(min_length=1)
    identities: list[RegistryIdentity] = Field(
        default_factory=list,
        description="Certificate (private-PKI or keyless) identities that may act like keys: "
        "name them in approvers, overrideApprovers or releasers.",
    )
    trusted_root: str | None = Field(
        default=None,
        description="Sigstore trusted_root.json, relative to the repository, for keyless "
        "identities (Fulcio CAs and Rekor keys; verification stays offline). `registry init` "
        "copies it from beside the config file.",
    )
    trusted_root_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the trusted root file: the signed config pins its bytes.",
    )
    admins: Quorum = Field(description="Who may change this config, and how many must sign.")
    releasers: list[Identifier] = Field(
        min_length=1, description="Keys that may publish, promote and roll back."
    )
    tuf_keys: list[Identifier] = Field(
        default_factory=list,
        description="Keys (from spec.keys) that may sign TUF targets, snapshot and timestamp "
        "besides the releasers' own keys: a releaser named by a certificate or keyless identity "
        "promotes and rolls back with one of them (`--tuf-key`).",
    )
    environments: list[RegistryEnvironment] = Field(min_length=1)
    commit_signers: list[CommitSigner] = Field(
        default_factory=list,
        description="When set, every commit recording an event under this config must be "
        "SSH-signed (git gpg.format=ssh) by one of these keys; `registry verify` checks it "
        "with git's allowed-signers mechanism.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RegistrySpec:
        known = {k.id for k in self.keys} | {i.id for i in self.identities}
        if len(known) != len(self.keys) + len(self.identities):
            raise ValueError("key and identity ids must be unique")
        if any(i.issuer for i in self.identities) and self.trusted_root is None:
            raise ValueError("keyless identities need 'trustedRoot'")
        if (self.trusted_root is None) != (self.trusted_root_sha256 is None):
            raise ValueError("'trustedRoot' and 'trustedRootSha256' go together")
        if self.admins.threshold < 1:
            raise ValueError("admins.threshold must be at least 1")
        names = [e.name for e in self.environments]
        if len(set(names)) != len(names):
            raise ValueError("environment names must be unique")
        quorums = [("admins", self.admins.keys), ("releasers", self.releasers)]
        quorums += [("tufKeys", self.tuf_keys)]
        for env in self.environments:
            quorums += [(f"{env.name}.approvers", env.approvers.keys)]
            quorums += [(f"{env.name}.overrideApprovers", env.override_approvers.keys)]
        if set(self.admins.keys) & {i.id for i in self.identities}:
            raise ValueError("admins must be keys (config changes are signed with keys)")
        if set(self.tuf_keys) & {i.id for i in self.identities}:
            raise ValueError("tufKeys must be keys (TUF metadata is signed with keys)")
        for where, ids in quorums:
            unknown = sorted(set(ids) - known)
            if unknown:
                raise ValueError(f"{where} names unknown keys: {', '.join(unknown)}")
        return self


class RegistryConfig(Model):
    """A registry's configuration: environments, gates and who may sign what."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["RegistryConfig"] = "RegistryConfig"
    metadata: Metadata
    spec: RegistrySpec

    def environment(self, name: str) -> RegistryEnvironment:
        """Return the environment called ``name``.

        Raises:
            UsageError: no such environment.
        """
        for env in self.spec.environments:
            if env.name == name:
                return env
        from nexusctl.errors import UsageError

        raise UsageError(
            f"environment '{name}' is not in the registry",
            hint="environments: " + ", ".join(e.name for e in self.spec.environments),
        )

    def previous(self, name: str) -> RegistryEnvironment | None:
        """Return the environment before ``name`` in promotion order (None for the first)."""
        names = [e.name for e in self.spec.environments]
        index = names.index(name)
        return self.spec.environments[index - 1] if index else None


@dataclass(frozen=True)
class LoadedConfig:
    """A config with its exact bytes (what admins signed) and its digest."""

    config: RegistryConfig
    raw: bytes
    digest: str

    def signers(self) -> ResolvedEnvironment:
        """Return all the config's keys as a verifier for signed statements (cached)."""
        if self.digest not in _SIGNERS:
            name = f"registry:{self.config.metadata.name}"
            _SIGNERS[self.digest] = keys_as_environment(self.config, None, name)
        return _SIGNERS[self.digest]


def load_config(path: Path, *, check_keys: bool = False) -> LoadedConfig:
    """Load and validate a RegistryConfig file, keeping its exact bytes.

    ``check_keys`` also parses every key (done when a config is adopted, not on every read).

    Raises:
        PolicyLoadError: YAML or schema error, located at file:line:column.
        InputError: unreadable, too large, or (``check_keys``) a key is not an EC public key.
    """
    from nexusctl.canonical import sha256_hex
    from nexusctl.document import load_document
    from nexusctl.files import read_bounded

    raw = read_bounded(path, MAX_CONFIG_BYTES, what="registry config")
    config, _ = load_document(path, RegistryConfig)
    if check_keys:
        keys_as_environment(config, None, "check")
    return LoadedConfig(config=config, raw=raw, digest="sha256:" + sha256_hex(raw))


_KEY_CACHE: dict[str, ec.EllipticCurvePublicKey] = {}
_SIGNERS: dict[str, ResolvedEnvironment] = {}


def keys_as_environment(
    config: RegistryConfig, ids: list[str] | None, name: str
) -> ResolvedEnvironment:
    """Return a trust-policy environment holding the named keys, for ``verify_signature_file``.

    Raises:
        InputError: a PEM in the config is not an EC P-256/P-384 public key.
    """
    from nexusctl.signing.keys import load_public_key
    from nexusctl.signing.trust import ResolvedEnvironment

    wanted = None if ids is None else set(ids)
    keys = []
    for key in config.spec.keys:
        if wanted is not None and key.id not in wanted:
            continue
        loaded = _KEY_CACHE.get(key.pem)
        if loaded is None:
            loaded = load_public_key(key.pem.encode(), f"registry key '{key.id}'")
            _KEY_CACHE[key.pem] = loaded
        keys.append((key.id, loaded))
    return ResolvedEnvironment(
        name=name,
        keys=tuple(keys),
        identities=(),
        trusted_root=None,
        authorities=(),
        required_attestations=(),
    )
