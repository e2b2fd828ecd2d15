"""ModelCatalog: the deployments a policy may route to, with prices, latency and decode options."""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import Field, model_validator

from nexusctl.document import API_VERSION, Identifier, Metadata, MicroUsd, MicroUsdPerMtok, Model
from nexusctl.policy.vocabulary import Capability, Tier


class PriceSource(Model):
    """Where a price came from, so it can be refreshed and audited (not typed by hand)."""

    table: str = Field(description="Name of the price table, e.g. 'litellm-2026-07-24'.")
    key: str = Field(description="The key of the entry in that table the price was taken from.")


class TokenPricing(Model):
    """Per-token pricing, as a hosted provider bills it."""

    kind: Literal["per_token"] = "per_token"
    input: MicroUsdPerMtok = Field(description="Input tokens, micro-USD per 1M tokens.")
    cached_input: MicroUsdPerMtok | None = Field(
        default=None, description="Cached input tokens; absent means billed as input."
    )
    output: MicroUsdPerMtok = Field(description="Output tokens, micro-USD per 1M tokens.")
    reasoning: MicroUsdPerMtok | None = Field(
        default=None, description="Reasoning tokens; absent means billed as output."
    )
    source: PriceSource | None = Field(
        default=None, description="Price-table entry these figures were imported from."
    )


class GpuTimePricing(Model):
    """GPU-time pricing for a self-hosted deployment: cost = GPU-seconds x price."""

    kind: Literal["gpu_time"] = "gpu_time"
    gpu_hour: MicroUsd = Field(description="Price of one GPU for one hour, micro-USD.")
    gpus: int = Field(ge=1, description="GPUs per replica (tensor parallelism).")
    source: str | None = Field(
        default=None, description="Where the GPU-hour price comes from (e.g. a chargeback rate)."
    )


Pricing = Annotated[TokenPricing | GpuTimePricing, Field(discriminator="kind")]


class LatencyPoint(Model):
    """Latency figures that hold up to a given load (requests in flight on one replica)."""

    max_load: int = Field(ge=1, description="These figures hold while load <= this value.")
    ttft_base_us: int = Field(ge=0, description="Time to first token at zero input, microseconds.")
    ttft_per_1k_input_us: int = Field(
        ge=0,
        alias="ttftPer1kInputUs",
        description="Added time to first token per 1,000 input tokens, microseconds.",
    )
    tpot_us: int = Field(ge=1, description="Time per output token, microseconds.")


class LatencyProfile(Model):
    """Latency as a step function of load; the first point whose max_load covers the load wins."""

    points: list[LatencyPoint] = Field(
        min_length=1, description="Latency points in strictly increasing maxLoad."
    )
    source: str | None = Field(default=None, description="Measurement or publication it came from.")

    @model_validator(mode="after")
    def _loads_strictly_increase(self) -> LatencyProfile:
        loads = [p.max_load for p in self.points]
        if any(b <= a for a, b in itertools.pairwise(loads)):
            raise ValueError("latency points must have strictly increasing maxLoad")
        return self


class SpeculativeDecoding(Model):
    """Speculative decoding with a draft model (Leviathan, Kalman, Matias, ICML 2023)."""

    kind: Literal["speculative"] = "speculative"
    draft_model: str = Field(description="The draft model proposing tokens.")
    acceptance_rate: float = Field(
        gt=0, lt=1, description="alpha: expected acceptance rate of drafted tokens."
    )
    draft_cost_ratio: float = Field(
        gt=0, lt=1, description="c: time of one draft step / time of one target step."
    )
    max_draft_tokens: int = Field(ge=1, le=32, description="gamma max: longest draft per step.")
    disable_above_load: int = Field(
        ge=1,
        description="Speculation is switched off when load exceeds this (it slows serving at "
        "high QPS: vLLM measured 1.4-1.8x slowdowns).",
    )


class Deployment(Model):
    """One place a model can answer: a model, at a provider, in a region, at a price."""

    id: Identifier
    model: str = Field(description="Model name as the provider knows it.")
    provider: Identifier
    region: Identifier = Field(description="Where the model runs (data residency).")
    tier: Tier = Field(description="small | mid | frontier; the router prefers the smallest.")
    context_window: int = Field(ge=1, description="Max input + output tokens.")
    capabilities: list[Capability] = Field(
        default_factory=list, description="What the deployment supports (tools, json, vision...)."
    )
    pricing: Pricing | None = Field(
        default=None, description="How the deployment bills; a deployment without one is linted."
    )
    latency: LatencyProfile = Field(description="Predicted latency by load.")
    speculative: SpeculativeDecoding | None = Field(
        default=None, description="Speculative decoding, if the deployment offers it."
    )


class PriceTableRef(Model):
    """A price table file that sits inside the repository root (docs/repository-root.md)."""

    name: str = Field(description="Table name used in each price's source.table.")
    path: str = Field(
        description="Path relative to the catalog file; must stay inside the repository root "
        "(by default the catalog's folder) and pass no symlink."
    )
    format: Literal["litellm"] = "litellm"


class CatalogSpec(Model):
    """The body of a ModelCatalog."""

    price_table: PriceTableRef | None = Field(
        default=None, description="The price table the per-token prices were imported from."
    )
    deployments: list[Deployment] = Field(min_length=1, description="The pool.")


class ModelCatalog(Model):
    """A versioned catalog of deployments (the pool a RoutingPolicy draws from)."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["ModelCatalog"] = "ModelCatalog"
    metadata: Metadata
    spec: CatalogSpec

    def deployment(self, deployment_id: str) -> Deployment | None:
        """Return the deployment with this id, or None."""
        for dep in self.spec.deployments:
            if dep.id == deployment_id:
                return dep
        return None
