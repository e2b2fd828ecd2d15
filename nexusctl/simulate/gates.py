"""Simulation gates: thresholds from a gate file and ``--gate`` flags, evaluated into a verdict.

Precedence, per gate: ``--gate`` flag > gate file > built-in default (only
``residency_violations_max = 0``, always on unless disabled) > the candidate policy's own
``limits.frontierShareMaxPct`` (for ``frontier_share_max_pct``). ``off`` disables a gate.

Values are compared exactly (fractions of the integer counts and micro-USD totals of the
result against the threshold's decimal text), so 5 % is never judged through a binary float.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field

from nexusctl.document import API_VERSION, Metadata, Model
from nexusctl.errors import UsageError
from nexusctl.simulate.result import GateResult, SimulationResult, Verdict

GateName = Literal[
    "spend_change_max_pct",
    "changed_decisions_max_pct",
    "residency_violations_max",
    "frontier_share_max_pct",
    "slo_attainment_drop_max_points",
    "pgr_min",
    "accuracy_min",
    "escalation_share_max_pct",
]
GATE_NAMES: tuple[str, ...] = get_args(GateName)

#: A threshold: a finite number. NaN would make every comparison false (a gate that can never
#: fail or never pass) and YAML's ``.nan``/``.inf`` read as floats, so both are refused here,
#: as the ``--gate`` flag path refuses them.
Threshold = Annotated[float, Field(allow_inf_nan=False)]
Source = Literal["file", "flag", "default", "policy"]


class GateThresholds(Model):
    """Thresholds; an absent gate is not checked (except residency, on by default)."""

    spend_change_max_pct: Threshold | None = Field(
        default=None,
        description="Candidate spend may change by at most this % of baseline spend "
        "(negative: require a saving).",
    )
    changed_decisions_max_pct: Threshold | None = Field(
        default=None, ge=0, le=100, description="At most this % of decisions may change."
    )
    residency_violations_max: int | None = Field(
        default=0,
        ge=0,
        description="Most candidate residency violations allowed (default 0; list the gate "
        "in 'disable' to switch it off).",
    )
    frontier_share_max_pct: Threshold | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Candidate frontier share at most this % (default: the candidate "
        "policy's limits.frontierShareMaxPct).",
    )
    slo_attainment_drop_max_points: Threshold | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Overall SLO attainment may drop by at most this many percentage points.",
    )
    pgr_min: Threshold | None = Field(
        default=None,
        description="Candidate performance gap recovered (RouteLLM PGR) at least this.",
    )
    accuracy_min: Threshold | None = Field(
        default=None, ge=0, le=1, description="Candidate accuracy on labelled requests, 0..1."
    )
    escalation_share_max_pct: Threshold | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Candidate escalated + refused requests at most this % of all.",
    )
    disable: list[GateName] = Field(
        default_factory=list, description="Gates switched off explicitly (e.g. residency)."
    )


class SimulationGates(Model):
    """A gate file: the thresholds a candidate policy's simulation must meet in CI."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["SimulationGates"] = "SimulationGates"
    metadata: Metadata
    spec: GateThresholds


@dataclass(frozen=True)
class GateSetting:
    """One enabled gate with its threshold (exact decimal text) and where it came from."""

    name: str
    threshold: Decimal
    source: Source


@dataclass(frozen=True)
class _Gate:
    description: str
    comparison: Literal["<=", ">="]
    measure: Callable[[SimulationResult], Fraction | None]


def load_gates(path: Path) -> SimulationGates:
    """Load a gate file (strict YAML, file:line:col errors).

    Raises:
        PolicyLoadError: unreadable file, YAML or schema error.
    """
    from nexusctl.document import load_document

    gates, _source = load_document(path, SimulationGates)
    return gates


def resolve_gates(
    file: SimulationGates | None, flags: Sequence[str], policy_frontier_limit: float | None
) -> list[GateSetting]:
    """Merge the gate file, ``--gate name=value`` flags and the defaults into enabled gates.

    Raises:
        UsageError: a flag that is not ``name=number`` or ``name=off`` with a known name.
    """
    chosen: dict[str, tuple[Decimal | None, Source]] = {
        "residency_violations_max": (Decimal(0), "default")
    }
    if policy_frontier_limit is not None:
        chosen["frontier_share_max_pct"] = (_decimal(policy_frontier_limit), "policy")
    if file is not None:
        spec = file.spec
        for name in GATE_NAMES:
            if name in spec.model_fields_set:
                value = getattr(spec, name)
                chosen[name] = (None if value is None else _decimal(value), "file")
        for name in spec.disable:
            chosen[name] = (None, "file")
    for flag in flags:
        name, value = _parse_flag(flag)
        chosen[name] = (value, "flag")
    return [
        GateSetting(name, threshold, source)
        for name in GATE_NAMES
        if name in chosen
        for threshold, source in [chosen[name]]
        if threshold is not None
    ]


def _parse_flag(flag: str) -> tuple[str, Decimal | None]:
    name, sep, raw = flag.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in GATE_NAMES:
        raise UsageError(
            f"--gate {flag!r}: expected NAME=THRESHOLD",
            hint="names: " + ", ".join(GATE_NAMES) + "; THRESHOLD is a number, or 'off'",
        )
    raw = raw.strip().removesuffix("%").strip()
    if raw.lower() == "off":
        return name, None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UsageError(f"--gate {flag!r}: {raw!r} is not a number (or 'off')") from None
    if not value.is_finite() or (name != "spend_change_max_pct" and value < 0):
        raise UsageError(f"--gate {flag!r}: threshold must be a finite, non-negative number")
    return name, value


def _decimal(value: float | int) -> Decimal:
    # str() gives the shortest text that round-trips, i.e. what the user wrote in YAML.
    return Decimal(str(value))


def _ratio(value: float | None) -> Fraction | None:
    return None if value is None else Fraction(_decimal(value))


def _share(part: int, whole: int) -> Fraction | None:
    return None if whole == 0 else Fraction(part * 100, whole)


def _spend_change(r: SimulationResult) -> Fraction | None:
    if r.spend.baseline == 0:
        return Fraction(0) if r.spend.candidate == 0 else None
    return Fraction(r.spend.change * 100, r.spend.baseline)


def _slo_drop(r: SimulationResult) -> Fraction | None:
    b, c = r.latency.baseline, r.latency.candidate
    if b.served == 0 or c.served == 0:
        return None
    return Fraction(b.slo_met * 100, b.served) - Fraction(c.slo_met * 100, c.served)


def _escalation(r: SimulationResult) -> Fraction | None:
    c = r.outcomes.candidate
    return _share(c.escalated + c.refused, r.decisions.requests)


GATES: dict[str, _Gate] = {
    "spend_change_max_pct": _Gate("spend change vs baseline, %", "<=", _spend_change),
    "changed_decisions_max_pct": _Gate(
        "decisions changed, % of requests",
        "<=",
        lambda r: _share(r.decisions.changed, r.decisions.requests),
    ),
    "residency_violations_max": _Gate(
        "candidate residency violations",
        "<=",
        lambda r: Fraction(r.residency.candidate_violations),
    ),
    "frontier_share_max_pct": _Gate(
        "candidate frontier share, % of requests",
        "<=",
        lambda r: _share(r.frontier.candidate, r.decisions.requests),
    ),
    "slo_attainment_drop_max_points": _Gate(
        "SLO attainment drop, percentage points", "<=", _slo_drop
    ),
    "pgr_min": _Gate(
        "candidate performance gap recovered (PGR)",
        ">=",
        lambda r: None if r.quality is None else _ratio(r.quality.candidate_pgr),
    ),
    "accuracy_min": _Gate(
        "candidate accuracy on labelled requests",
        ">=",
        lambda r: None if r.quality is None else _ratio(r.quality.candidate_accuracy),
    ),
    "escalation_share_max_pct": _Gate(
        "candidate escalated + refused, % of requests", "<=", _escalation
    ),
}


def evaluate_gates(result: SimulationResult, settings: Sequence[GateSetting]) -> Verdict:
    """Measure each enabled gate on ``result``.

    A gate whose value cannot be measured (no labels for a quality gate; a spend increase from
    a zero baseline) fails, except on empty traffic (``--allow-empty``), where it passes.
    """
    results = []
    for setting in settings:
        gate = GATES[setting.name]
        value = gate.measure(result)
        threshold = Fraction(setting.threshold)
        if value is None:
            passed = result.decisions.requests == 0
        elif gate.comparison == "<=":
            passed = value <= threshold
        else:
            passed = value >= threshold
        results.append(
            GateResult(
                name=setting.name,
                description=gate.description,
                comparison=gate.comparison,
                threshold=float(setting.threshold),
                value=None if value is None else float(value),
                passed=passed,
                source=setting.source,
            )
        )
    return Verdict(passed=all(g.passed for g in results), gates=results)
