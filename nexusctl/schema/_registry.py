"""The registry of models nexusctl exports as JSON Schema (and documents in the reference).

Each entry is ``("Name", "dotted.module:Class")``: ``Name`` becomes ``schemas/<Name>.json``
and the ``$id``. A capability that adds a document type adds one line here; the model is
imported only when a schema or the reference is generated, so the CLI stays fast to start.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel

#: Exported document models, in the order the reference documents them.
EXPORTED_MODELS: list[tuple[str, str]] = [
    ("RoutingPolicy", "nexusctl.policy.routing:RoutingPolicy"),
    ("ModelCatalog", "nexusctl.policy.catalog:ModelCatalog"),
    ("TrafficEnrichment", "nexusctl.traffic.enrich:EnrichmentSpec"),
    ("TrustPolicy", "nexusctl.signing.trust:TrustPolicy"),
    ("PolicyBundleManifest", "nexusctl.bundle:BundleManifest"),
    ("SimulationGates", "nexusctl.simulate.gates:SimulationGates"),
    ("SimulationResult", "nexusctl.simulate.result:SimulationResult"),
    ("RoutingDiffPredicate", "nexusctl.statements:RoutingDiffPredicate"),
    ("RegistryConfig", "nexusctl.registry.config:RegistryConfig"),
    ("PromotionPredicate", "nexusctl.statements:PromotionPredicate"),
    ("DecisionRecord", "nexusctl.evidence.record:DecisionRecord"),
    ("EvidenceReport", "nexusctl.evidence.report_model:EvidenceReport"),
    ("PolicyTest", "nexusctl.policytest.model:PolicyTest"),
    ("RoutingRequest", "nexusctl.policy.request:RoutingRequest"),
    ("BundleInspection", "nexusctl.signing.inspect:BundleInspection"),
]


def resolve_model(target: str) -> type[BaseModel]:
    """Import ``dotted.module:Class`` and return the pydantic model class.

    Raises:
        ValueError: the target is malformed or does not name a pydantic model.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"registry target {target!r} is not 'dotted.module:Class'")
    obj = getattr(importlib.import_module(module_name), attr, None)
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise ValueError(f"registry target {target!r} is not a pydantic model")
    return obj


def exported_models(
    registry: list[tuple[str, str]] | None = None,
) -> list[tuple[str, type[BaseModel]]]:
    """Return ``(name, model class)`` for every registry entry, in registry order.

    Raises:
        ValueError: a malformed entry, or a duplicate name.
    """
    entries = EXPORTED_MODELS if registry is None else registry
    seen: set[str] = set()
    out: list[tuple[str, type[BaseModel]]] = []
    for name, target in entries:
        if name in seen:
            raise ValueError(f"schema name {name!r} is registered twice")
        seen.add(name)
        out.append((name, resolve_model(target)))
    return out
