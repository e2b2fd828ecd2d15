"""Compare one Decision with a case's Expectation: every mismatch, each at its own key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nexusctl.document import SourceMap
from nexusctl.errors import Location
from nexusctl.policy.routing import IntRange
from nexusctl.policytest.model import Expectation
from nexusctl.router import Decision


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold, located at its key in the test file."""

    field: str
    message: str
    location: Location


def check(
    expect: Expectation, decision: Decision, source: SourceMap, key: tuple[str | int, ...]
) -> tuple[Failure, ...]:
    """Return every expectation of ``expect`` that ``decision`` breaks (empty: the case passed)."""
    failures: list[Failure] = []

    def fail(name: str, message: str, *sub: str | int) -> None:
        failures.append(Failure(name, message, source.locate((*key, name, *sub))))

    def same(name: str, want: Any, got: Any) -> None:
        if want is not None and want != got:
            fail(name, f"expected {name} {_show(want)}, got {_show(got)}")

    same("outcome", expect.outcome, decision.outcome)
    same("route", expect.route, decision.route_id)
    same("tier", expect.tier, decision.tier)
    same("deployment", expect.deployment, decision.deployment_id)
    same("tierFloor", expect.tier_floor, decision.tier_floor)
    same("decodeStrategy", expect.decode_strategy, decision.decode_strategy)
    same("sloMet", expect.slo_met, decision.slo_met)
    same("reason", expect.reason, decision.reason)
    same("escalationRule", expect.escalation_rule, decision.escalation_rule)
    if expect.deployment_in is not None and decision.deployment_id not in expect.deployment_in:
        fail(
            "deploymentIn",
            f"expected a deployment in [{', '.join(expect.deployment_in)}], "
            f"got {_show(decision.deployment_id)}",
        )
    if expect.no_deployment is not None and expect.no_deployment != (
        decision.deployment_id is None
    ):
        got = "nothing" if decision.deployment_id is None else f"'{decision.deployment_id}'"
        wanted = "no deployment" if expect.no_deployment else "a deployment"
        fail("noDeployment", f"expected {wanted}, got {got}")
    present = _codes(decision)
    for index, code in enumerate(expect.reasons):
        if not _has(present, code):
            fail(
                "reasons",
                f"expected reason code {code} among [{', '.join(sorted(present))}]",
                index,
            )
    eliminated = decision.eliminated()
    for dep_id, code in expect.eliminated.items():
        by = eliminated.get(dep_id)
        if by is None or not _has({by}, code):
            status = f"eliminated by {by}" if by else "not eliminated"
            fail("eliminated", f"expected '{dep_id}' eliminated by {code}, it was {status}", dep_id)
    _bounds(
        fail,
        "costPusd",
        "predicted cost",
        "pico-USD",
        expect.cost_pusd,
        decision.predicted_cost_pusd,
    )
    _bounds(
        fail,
        "latencyUs",
        "predicted latency",
        "us",
        expect.latency_us,
        decision.predicted_latency_us,
    )
    return tuple(failures)


def _codes(decision: Decision) -> set[str]:
    codes = {c.reason for c in decision.candidates if c.reason}
    if decision.reason:
        codes.add(decision.reason)
    return codes


def _has(present: set[str], code: str) -> bool:
    """``code`` is present; a code without ':' also matches its suffixed forms."""
    if code in present:
        return True
    return ":" not in code and any(p.partition(":")[0] == code for p in present)


def _bounds(
    fail: Any, name: str, what: str, unit: str, bounds: IntRange | None, value: int | None
) -> None:
    if bounds is None:
        return
    if value is None:
        fail(name, f"expected a {what}, but nothing was chosen")
        return
    if bounds.min is not None and value < bounds.min:
        fail(name, f"{what} {value} {unit} is below the minimum {bounds.min}", "min")
    if bounds.max is not None and value > bounds.max:
        fail(name, f"{what} {value} {unit} is above the maximum {bounds.max}", "max")


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'"
