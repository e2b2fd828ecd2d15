"""The promotion predicate: what every registry record signs (one in-toto Statement v1 each).

Predicate type ``https://nexuscore.io/attestation/promotion/v1`` (VSA-like: the environment,
the bundle, what was live before, every gate with its verdict and evidence digest, the
approvals relied on, the actor and the time), and the registry-config predicate an admin signs
to approve a config version. ``nexusctl.registry`` builds, signs, chains and verifies them.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nexusctl.document import FrozenModel

CONFIG_PREDICATE = "https://nexuscore.io/attestation/registry-config/v1"
PROMOTION_PREDICATE = "https://nexuscore.io/attestation/promotion/v1"

Event = Literal["init", "config", "publish", "approve", "promote", "rollback"]
Verdict = Literal["pass", "skip", "override"]


class BundleRef(FrozenModel):
    """A bundle by name, policy version and digest."""

    name: str = Field(description="Policy name (the bundle is <name>-v<version>).")
    version: int = Field(ge=1)
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class GateRecord(FrozenModel):
    """One gate as checked at the event: its verdict and the digest of its evidence."""

    name: str
    verdict: Verdict
    evidence: str | None = Field(
        default=None, description="sha256:<hex> of the evidence file (or record) it rests on."
    )
    detail: str = ""


class ApprovalGrant(FrozenModel):
    """What an approve record grants: promotion (or rollback/override) of one bundle."""

    purpose: Literal["promote", "rollback", "override"] = "promote"
    expires: str = Field(description="RFC 3339 UTC time after which the approval is void.")


class PromotionPredicate(FrozenModel):
    """The predicate of every registry record (a verification-summary-like statement)."""

    PREDICATE_TYPE: ClassVar[str] = PROMOTION_PREDICATE

    sequence: int = Field(ge=1, description="Position in the log, starting at 1.")
    event: Event
    time: str = Field(description="RFC 3339 UTC time of the event (from the registry clock).")
    actor: str = Field(description="Id of the registry key that signed this record.")
    previous_record: str | None = Field(
        description="sha256:<hex> of the record file before this one (null for the first)."
    )
    config_version: int = Field(ge=1, description="Version of the config in effect.")
    config_digest: str = Field(description="sha256:<hex> of the config file in effect.")
    environment: str | None = None
    bundle: BundleRef | None = None
    previous_live: str | None = Field(
        default=None, description="Digest live in the environment before this event."
    )
    gates: list[GateRecord] = Field(default_factory=list)
    approvals: list[str] = Field(
        default_factory=list, description="sha256:<hex> of each approve record relied on."
    )
    override: bool = Field(default=False, description="A freeze window was overridden.")
    reason: str | None = Field(default=None, description="Rollback reason.")
    grant: ApprovalGrant | None = None
    trust_policy_digest: str | None = Field(
        default=None, description="init/config: sha256:<hex> of the trust policy file."
    )
    config_signatures: list[str] = Field(
        default_factory=list, description="init/config: admin ids whose signatures counted."
    )
    renewed_roots: list[str] = Field(
        default_factory=list,
        description="config: environments whose TUF root this change re-issued with the same "
        "keys and a later expiry (`config propose --renew-roots`).",
    )


class RegistryConfigPredicate(FrozenModel):
    """What an admin signs to approve a registry config version: its name and version.

    The statement's subject carries the config file's digest.
    """

    PREDICATE_TYPE: ClassVar[str] = CONFIG_PREDICATE

    name: str
    version: int = Field(ge=1)
