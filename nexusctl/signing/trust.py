"""The trust policy: who may sign bundles for which environment, and what must be attested.

A trust policy is YAML (input only), validated by these models. Verification reads keys,
CA certificates and the Sigstore trusted root only from here, never from the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from nexusctl.document import API_VERSION, Identifier, Metadata, Model
from nexusctl.errors import UsageError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

#: The kinds ``nexusctl.statements.ATTESTATION_KINDS`` knows (a test keeps the two equal; the
#: Literal stays static so the trust policy's JSON Schema lists them).
AttestationKind = Literal["provenance", "routing-diff"]


class TrustedKey(Model):
    """A public key allowed to sign (local-key mode): a PEM file or inline PEM."""

    id: Identifier = Field(description="Name shown when this key verified a signature.")
    path: str | None = Field(
        default=None,
        description="PEM public key file, relative to the trust policy file and inside its folder.",
    )
    pem: str | None = Field(default=None, description="Inline PEM public key.")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> TrustedKey:
        if (self.path is None) == (self.pem is None):
            raise ValueError("give exactly one of 'path' or 'pem'")
        return self


class KeylessIdentity(Model):
    """A Sigstore keyless identity: the certificate's SAN and the OIDC issuer that vouched.

    With a reusable CI workflow the SAN names the *called* workflow, the same for every
    repository that calls it at that ref; ``sourceRepository`` (and ``sourceRef``) pin the
    repository whose run signed, from the certificate's Fulcio extensions.
    """

    san: str = Field(description="Exact subject alternative name (email or URI).")
    issuer: str = Field(
        description="Exact OIDC issuer URL (Fulcio extension 1.3.6.1.4.1.57264.1.1)."
    )
    source_repository: str | None = Field(
        default=None,
        description="Exact Source Repository URI the certificate must carry (Fulcio extension "
        "1.3.6.1.4.1.57264.1.12), e.g. https://github.com/OWNER/REPO; unset: any.",
    )
    source_ref: str | None = Field(
        default=None,
        description="Exact Source Repository Ref the certificate must carry (Fulcio extension "
        "1.3.6.1.4.1.57264.1.14), e.g. refs/heads/main; unset: any.",
    )


class CertificateAuthority(Model):
    """A private-PKI root CA whose end-entity certificates may sign."""

    id: Identifier
    path: str = Field(
        description="PEM root certificate(s), relative to the trust policy file and inside its "
        "folder."
    )
    identities: list[str] = Field(
        default_factory=list,
        description="Allowed leaf SANs (email/URI/DNS); empty allows any leaf the CA issued.",
    )


class Environment(Model):
    """Signers and required attestations for one environment (dev, staging, prod...)."""

    keys: list[TrustedKey] = Field(default_factory=list)
    identities: list[KeylessIdentity] = Field(
        default_factory=list, description="Keyless identities; need 'trustedRoot'."
    )
    trusted_root: str | None = Field(
        default=None,
        description="Sigstore trusted_root.json (relative to this file, inside its folder) for "
        "keyless signatures.",
    )
    certificate_authorities: list[CertificateAuthority] = Field(default_factory=list)
    required_attestations: list[AttestationKind] = Field(
        default_factory=list,
        description="Attestations the bundle must carry, each signed by an allowed signer.",
    )

    @model_validator(mode="after")
    def _has_a_signer(self) -> Environment:
        if not (self.keys or self.identities or self.certificate_authorities):
            raise ValueError("an environment must allow at least one key, identity or CA")
        if self.identities and self.trusted_root is None:
            raise ValueError("keyless identities need 'trustedRoot'")
        return self


class TrustPolicySpec(Model):
    """The body of a TrustPolicy."""

    default_environment: Identifier | None = None
    environments: dict[Identifier, Environment] = Field(min_length=1)


class TrustPolicy(Model):
    """Which signers each environment trusts, and which attestations it requires."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["TrustPolicy"] = "TrustPolicy"
    metadata: Metadata
    spec: TrustPolicySpec


@dataclass(frozen=True)
class ResolvedEnvironment:
    """An environment with its key material loaded, ready for offline verification."""

    name: str
    keys: tuple[tuple[str, ec.EllipticCurvePublicKey], ...]
    identities: tuple[KeylessIdentity, ...]
    trusted_root: Path | None
    authorities: tuple[tuple[CertificateAuthority, tuple[x509.Certificate, ...]], ...]
    required_attestations: tuple[AttestationKind, ...]


def load_trust_policy(path: Path) -> TrustPolicy:
    """Load and validate a trust policy file.

    Raises:
        PolicyLoadError: YAML or schema error, located at file:line:column.
    """
    from nexusctl.document import load_document

    policy, _ = load_document(path, TrustPolicy)
    return policy


def resolve_environment(
    policy: TrustPolicy, base: Path, environment: str | None
) -> ResolvedEnvironment:
    """Pick the environment and load its keys and CA certificates (paths relative to ``base``).

    Raises:
        UsageError: no environment given and no single/default one, or an unknown one.
        InputError: a key, certificate or trusted-root file is missing, outside the trust
            policy's folder, not a regular file, too large or malformed.
    """
    from nexusctl.signing.keys import load_public_key, load_public_key_file
    from nexusctl.signing.signers import load_certificates

    envs = policy.spec.environments
    name = environment or policy.spec.default_environment
    if name is None:
        if len(envs) != 1:
            raise UsageError(
                "the trust policy has several environments; choose one with --env",
                hint="environments: " + ", ".join(sorted(envs)),
            )
        name = next(iter(envs))
    if name not in envs:
        raise UsageError(
            f"environment '{name}' is not in the trust policy",
            hint="environments: " + ", ".join(sorted(envs)),
        )
    env = envs[name]
    keys = []
    for key in env.keys:
        if key.path is not None:
            keys.append((key.id, load_public_key_file(_inside(base, key.path))))
        else:
            assert key.pem is not None
            keys.append((key.id, load_public_key(key.pem.encode(), f"key '{key.id}'")))
    authorities = []
    for ca in env.certificate_authorities:
        authorities.append((ca, tuple(load_certificates(_inside(base, ca.path)))))
    root = None
    if env.trusted_root is not None:
        root = _inside(base, env.trusted_root)
    return ResolvedEnvironment(
        name=name,
        keys=tuple(keys),
        identities=tuple(env.identities),
        trusted_root=root,
        authorities=tuple(authorities),
        required_attestations=tuple(env.required_attestations),
    )


def _inside(base: Path, reference: str) -> Path:
    """Resolve a file the trust policy names; refuse one outside the trust policy's folder.

    Confined like a policy's references (``nexusctl.document.resolve_inside``): absolute paths,
    ``..`` and symlinks that leave the folder are refused, so the trust material is exactly
    what a review of that folder saw.
    """
    from nexusctl.document import resolve_inside
    from nexusctl.errors import Location, PolicyLoadError

    where = Location(f"trust policy ({base})")
    candidate = (base / reference).resolve()
    # A FIFO or device inside the folder is named as such (resolve_inside would call it missing).
    inside = candidate.is_relative_to(base.resolve())
    if inside and candidate.exists() and not candidate.is_file():
        raise PolicyLoadError(where, f"'{reference}' is not a regular file")
    return resolve_inside(base, base, reference, where)
