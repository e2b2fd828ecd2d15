"""Typed in-toto statements: every signed statement nexusctl writes or reads, as models.

One place for what signatures and attestations *say*, so verification, the registry's gates
and the evidence records read the same typed fields instead of ``.get`` chains:

- ``Statement[P]`` / ``ResourceDescriptor``: the in-toto Statement v1 envelope (``intoto``);
- ``ModelSigningPredicate``: the bundle signature's file list (OpenSSF model-signing v1.0);
- ``SlsaProvenance``: SLSA provenance v1;
- ``RoutingDiffPredicate``: the signed verdict of ``simulate --attest``;
- ``Reason``: the verification reason codes;
- ``loads_strict``: the bounded JSON reader for untrusted signatures and manifests.

Each predicate model declares its URI as ``PREDICATE_TYPE``. An attestation filed in a bundle
as ``attestations/<kind>.sigstore.json`` must carry the predicate ``ATTESTATION_KINDS[kind]``
names; adding a predicate (the promotion record next) is one model and one entry there.
"""

from __future__ import annotations

from pydantic import BaseModel

from nexusctl.statements.intoto import (
    STATEMENT_TYPE,
    ResourceDescriptor,
    Statement,
    StatementError,
    parse_statement,
    predicate_type_of,
    statement_bytes,
)
from nexusctl.statements.model_signing import (
    MODEL_SIGNING_PREDICATE,
    ModelSigningPredicate,
    Serialization,
    SignedResource,
)
from nexusctl.statements.promotion import (
    CONFIG_PREDICATE,
    PROMOTION_PREDICATE,
    ApprovalGrant,
    BundleRef,
    Event,
    GateRecord,
    PromotionPredicate,
    RegistryConfigPredicate,
    Verdict,
)
from nexusctl.statements.reasons import Reason
from nexusctl.statements.routing_diff import (
    ROUTING_DIFF_PREDICATE,
    AttestedGate,
    AttestedPolicy,
    RoutingDiffPredicate,
)
from nexusctl.statements.slsa import (
    SLSA_PROVENANCE_PREDICATE,
    BuildDefinition,
    Builder,
    BuildMetadata,
    RunDetails,
    SlsaProvenance,
)

#: Attestation kind (its file name under ``attestations/``) -> the predicate model it carries.
ATTESTATION_KINDS: dict[str, type[BaseModel]] = {
    "provenance": SlsaProvenance,
    "routing-diff": RoutingDiffPredicate,
}

__all__ = [
    "ATTESTATION_KINDS",
    "CONFIG_PREDICATE",
    "MODEL_SIGNING_PREDICATE",
    "PROMOTION_PREDICATE",
    "ROUTING_DIFF_PREDICATE",
    "SLSA_PROVENANCE_PREDICATE",
    "STATEMENT_TYPE",
    "ApprovalGrant",
    "AttestedGate",
    "AttestedPolicy",
    "BuildDefinition",
    "BuildMetadata",
    "Builder",
    "BundleRef",
    "Event",
    "GateRecord",
    "ModelSigningPredicate",
    "PromotionPredicate",
    "Reason",
    "RegistryConfigPredicate",
    "ResourceDescriptor",
    "RoutingDiffPredicate",
    "RunDetails",
    "Serialization",
    "SignedResource",
    "SlsaProvenance",
    "Statement",
    "StatementError",
    "Verdict",
    "parse_statement",
    "predicate_type_of",
    "statement_bytes",
]
