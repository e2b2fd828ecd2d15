"""Policy documents: the models (single source of truth) and the strict loader.

Names are imported on first use (PEP 562), so a command that needs only the loader does not
pay for building every model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TIER_ORDER": "nexusctl.policy.vocabulary",
    "Capability": "nexusctl.policy.vocabulary",
    "DataClass": "nexusctl.policy.vocabulary",
    "RiskClass": "nexusctl.policy.vocabulary",
    "Tier": "nexusctl.policy.vocabulary",
    "Deployment": "nexusctl.policy.catalog",
    "GpuTimePricing": "nexusctl.policy.catalog",
    "LatencyPoint": "nexusctl.policy.catalog",
    "LatencyProfile": "nexusctl.policy.catalog",
    "ModelCatalog": "nexusctl.policy.catalog",
    "SpeculativeDecoding": "nexusctl.policy.catalog",
    "TokenPricing": "nexusctl.policy.catalog",
    "LoadedCatalog": "nexusctl.policy.loader",
    "LoadedPolicy": "nexusctl.policy.loader",
    "load_catalog": "nexusctl.policy.loader",
    "load_policy": "nexusctl.policy.loader",
    "RoutingRequest": "nexusctl.policy.request",
    "EscalationRule": "nexusctl.policy.routing",
    "FallbackChain": "nexusctl.policy.routing",
    "Guardrail": "nexusctl.policy.routing",
    "Match": "nexusctl.policy.routing",
    "ResidencyClass": "nexusctl.policy.routing",
    "Route": "nexusctl.policy.routing",
    "RoutingPolicy": "nexusctl.policy.routing",
}

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

if TYPE_CHECKING:
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
    from nexusctl.policy.vocabulary import TIER_ORDER, Capability, DataClass, RiskClass, Tier


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nexusctl.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
