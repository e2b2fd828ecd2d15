"""Policy documents: the models (single source of truth), the strict loader, and lint."""

from nexusctl.policy._base import TIER_ORDER, Capability, DataClass, RiskClass, Tier
from nexusctl.policy.catalog import (
    Deployment,
    GpuTimePricing,
    LatencyPoint,
    LatencyProfile,
    ModelCatalog,
    SpeculativeDecoding,
    TokenPricing,
)
from nexusctl.policy.loader import LoadedCatalog, LoadedPolicy, load_catalog, load_policy
from nexusctl.policy.request import RoutingRequest
from nexusctl.policy.routing import (
    EscalationRule,
    FallbackChain,
    Guardrail,
    Match,
    ResidencyClass,
    Route,
    RoutingPolicy,
)

__all__ = [
    "TIER_ORDER",
    "Capability",
    "DataClass",
    "Deployment",
    "EscalationRule",
    "FallbackChain",
    "GpuTimePricing",
    "Guardrail",
    "LatencyPoint",
    "LatencyProfile",
    "LoadedCatalog",
    "LoadedPolicy",
    "Match",
    "ModelCatalog",
    "ResidencyClass",
    "RiskClass",
    "Route",
    "RoutingPolicy",
    "RoutingRequest",
    "SpeculativeDecoding",
    "Tier",
    "TokenPricing",
    "load_catalog",
    "load_policy",
]
