"""PolicyTest: a file of routing cases pinned to expected outcomes, kept next to its policy.

The shape follows ``kyverno test`` and ``conftest verify``: each case is a request (inline, or
a JSON file beside the test file), a load, and what the reference router must decide.
Every expectation is optional; a case must state at least one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from nexusctl.document import API_VERSION, Identifier, Metadata, Model
from nexusctl.policy.request import RoutingRequest
from nexusctl.policy.routing import IntRange
from nexusctl.policy.vocabulary import Tier


class Expectation(Model):
    """What the router must decide for the case's request. Absent fields are not checked."""

    outcome: Literal["routed", "escalated", "refused"] | None = Field(
        default=None, description="routed, escalated (flagged for review) or refused."
    )
    route: Identifier | None = Field(default=None, description="The route that must match.")
    tier: Tier | None = Field(default=None, description="The tier of the chosen deployment.")
    deployment: Identifier | None = Field(default=None, description="The chosen deployment's id.")
    deployment_in: list[Identifier] | None = Field(
        default=None, min_length=1, description="The chosen deployment is one of these ids."
    )
    no_deployment: bool | None = Field(
        default=None, description="true: nothing serves the request (refused, or escalated)."
    )
    tier_floor: Tier | None = Field(
        default=None, description="The tier floor after route.minTier and complexity."
    )
    decode_strategy: Literal["standard", "speculative"] | None = Field(
        default=None, description="'speculative' when the Latency Controller drafts."
    )
    slo_met: bool | None = Field(default=None, description="Whether the SLO is predicted met.")
    reason: str | None = Field(
        default=None, description="The decision's primary reason code (escalated/refused)."
    )
    escalation_rule: Identifier | None = Field(
        default=None, description="The escalation rule that fired."
    )
    reasons: list[str] = Field(
        default_factory=list,
        description=(
            "Reason codes that must appear (decision or any candidate). A code without ':' "
            "also matches its suffixed forms (GUARDRAIL matches GUARDRAIL:<id>)."
        ),
    )
    eliminated: dict[Identifier, str] = Field(
        default_factory=dict,
        description="Deployment id -> the reason code that must have eliminated it.",
    )
    cost_pusd: IntRange | None = Field(
        default=None, description="Bounds on the predicted cost, integer pico-USD (1e-12 USD)."
    )
    latency_us: IntRange | None = Field(
        default=None, description="Bounds on the predicted latency, integer microseconds."
    )

    @model_validator(mode="after")
    def _something_expected(self) -> Expectation:
        if not self.model_fields_set:
            raise ValueError("expect states nothing; name at least one expected field")
        return self


class PolicyTestCase(Model):
    """One request, the load it arrives at, and the decision it must get."""

    name: str = Field(min_length=1, max_length=200, description="Shown in every report.")
    description: str | None = None
    request: RoutingRequest | None = Field(
        default=None, description="The request's attributes (RoutingRequest), inline."
    )
    request_file: str | None = Field(
        default=None,
        description="A JSON RoutingRequest file, relative to this file and inside its folder.",
    )
    load: int = Field(default=1, ge=1, strict=True, description="Requests in flight (>= 1).")
    expect: Expectation

    @model_validator(mode="after")
    def _one_request(self) -> PolicyTestCase:
        if (self.request is None) == (self.request_file is None):
            raise ValueError("set exactly one of request, requestFile")
        return self


class PolicyTestSpec(Model):
    """The policy under test and its cases."""

    policy: str = Field(
        description="The RoutingPolicy file, relative to this file, inside its folder."
    )
    cases: list[PolicyTestCase] = Field(min_length=1, description="Run in order; all are run.")


class PolicyTest(Model):
    """Unit tests for one RoutingPolicy: requests and the decisions they must get."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["PolicyTest"] = "PolicyTest"
    metadata: Metadata
    spec: PolicyTestSpec
