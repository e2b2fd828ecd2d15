"""Simulation gates: the gate file, --gate flags, precedence, and exact evaluation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from nexusctl.errors import PolicyLoadError, UsageError
from nexusctl.simulate.gates import (
    GATE_NAMES,
    GateSetting,
    evaluate_gates,
    load_gates,
    resolve_gates,
)
from tests.assets.simulate.simulate_results import make_result

REPO = Path(__file__).resolve().parents[2]
GATES = REPO / "tests" / "assets" / "simulate" / "gates"


def _settings(**thresholds: str) -> list[GateSetting]:
    return [GateSetting(name, Decimal(value), "flag") for name, value in thresholds.items()]


def _by_name(verdict: object) -> dict[str, object]:
    return {g.name: g for g in verdict.gates}


def test_example_gate_file_loads() -> None:
    gates = load_gates(REPO / "policies" / "nebula" / "gates" / "retail-chat.gates.yaml")
    settings = resolve_gates(gates, [], None)
    assert {s.name: s.threshold for s in settings} == {
        "spend_change_max_pct": Decimal("5.0"),
        "changed_decisions_max_pct": Decimal("5.0"),
        "residency_violations_max": Decimal("0"),
        "frontier_share_max_pct": Decimal("5.0"),
        "slo_attainment_drop_max_points": Decimal("1.0"),
        "pgr_min": Decimal("0.25"),
    }
    assert {s.source for s in settings} == {"file"}


@pytest.mark.parametrize(
    ("asset", "where", "message"),
    [
        ("unknown-field.gates.yaml", ":6:3", "unknown field 'frontierShareMaxPcnt'"),
        ("wrong-kind.gates.yaml", ":2:", "expected 'SimulationGates'"),
        ("negative-threshold.gates.yaml", ":5:", "greater than or equal to 0"),
        ("duplicate-key.gates.yaml", ":6:3", "duplicate key 'pgrMin'"),
        ("unknown-disabled-gate.gates.yaml", ":5:", "disable"),
    ],
)
def test_bad_gate_files_are_located(asset: str, where: str, message: str) -> None:
    with pytest.raises(PolicyLoadError) as info:
        load_gates(GATES / asset)
    assert where in str(info.value)
    assert message in str(info.value)


def test_missing_gate_file() -> None:
    with pytest.raises(PolicyLoadError, match="file not found"):
        load_gates(GATES / "absent.gates.yaml")


def test_defaults_residency_always_on_and_frontier_from_policy() -> None:
    settings = resolve_gates(None, [], 5.0)
    assert [(s.name, s.threshold, s.source) for s in settings] == [
        ("residency_violations_max", Decimal(0), "default"),
        ("frontier_share_max_pct", Decimal("5.0"), "policy"),
    ]
    assert [s.name for s in resolve_gates(None, [], None)] == ["residency_violations_max"]


def test_flags_override_file_and_off_disables() -> None:
    gates = load_gates(REPO / "policies" / "nebula" / "gates" / "retail-chat.gates.yaml")
    settings = resolve_gates(
        gates, ["spend-change-max-pct=+2.5%", "pgr_min=off", "residency_violations_max=off"], 5.0
    )
    by_name = {s.name: s for s in settings}
    assert by_name["spend_change_max_pct"].threshold == Decimal("2.5")
    assert by_name["spend_change_max_pct"].source == "flag"
    assert "pgr_min" not in by_name
    assert "residency_violations_max" not in by_name


def test_file_can_disable_residency_explicitly() -> None:
    settings = resolve_gates(load_gates(GATES / "disable-residency.gates.yaml"), [], None)
    assert [s.name for s in settings] == ["changed_decisions_max_pct"]


@pytest.mark.parametrize(
    "flag",
    [
        "spend_change_max_pct",
        "nonsense=3",
        "pgr_min=lots",
        "changed_decisions_max_pct=-1",
        "pgr_min=nan",
    ],
)
def test_bad_gate_flags_are_usage_errors(flag: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_gates(None, [flag], None)
    assert flag.split("=")[0].replace("-", "_") in str(info.value) or "--gate" in str(info.value)


def test_every_gate_passes_and_fails_at_its_threshold() -> None:
    # 200 requests, all served: 10 changed (5 %), spend +5 %, 4 frontier (2 %),
    # SLO 95 % -> 94 % (-1 pt), candidate PGR 0.8, accuracy 0.76, nothing escalated.
    result = make_result(escalated=0, refused=0)
    at_threshold = _settings(
        spend_change_max_pct="5",
        changed_decisions_max_pct="5",
        residency_violations_max="0",
        frontier_share_max_pct="2",
        slo_attainment_drop_max_points="1",
        pgr_min="0.8",
        accuracy_min="0.76",
        escalation_share_max_pct="0",
    )
    verdict = evaluate_gates(result, at_threshold)
    assert [g.name for g in verdict.gates] == list(GATE_NAMES)
    assert verdict.passed, [g for g in verdict.gates if not g.passed]
    just_beyond = _settings(
        spend_change_max_pct="4.99",
        changed_decisions_max_pct="4.99",
        frontier_share_max_pct="1.99",
        slo_attainment_drop_max_points="0.99",
        pgr_min="0.81",
        accuracy_min="0.77",
    )
    failed = evaluate_gates(result, just_beyond)
    assert not failed.passed
    assert all(not g.passed for g in failed.gates)
    spend = _by_name(failed)["spend_change_max_pct"]
    assert (spend.value, spend.threshold, spend.comparison) == (5.0, 4.99, "<=")


def test_escalation_share_counts_escalated_and_refused() -> None:
    result = make_result(escalated=3, refused=1)  # 4 of 200 = 2 %
    assert evaluate_gates(result, _settings(escalation_share_max_pct="2")).passed
    assert not evaluate_gates(result, _settings(escalation_share_max_pct="1.99")).passed


def test_residency_gate_fails_on_one_violation() -> None:
    verdict = evaluate_gates(make_result(violations=1), resolve_gates(None, [], None))
    assert not verdict.passed
    assert verdict.gates[0].value == 1.0


def test_quality_gate_without_labels_fails() -> None:
    verdict = evaluate_gates(make_result(quality=False), _settings(pgr_min="0.5"))
    gate = verdict.gates[0]
    assert (gate.value, gate.passed) == (None, False)


def test_spend_increase_from_zero_fails_and_zero_to_zero_passes() -> None:
    up = evaluate_gates(
        make_result(baseline_spend=0, candidate_spend=5), _settings(spend_change_max_pct="1000")
    )
    assert not up.passed
    flat = evaluate_gates(
        make_result(baseline_spend=0, candidate_spend=0), _settings(spend_change_max_pct="0")
    )
    assert flat.passed


def test_negative_spend_threshold_requires_a_saving() -> None:
    saving = make_result(candidate_spend=900_000)
    assert evaluate_gates(saving, _settings(spend_change_max_pct="-10")).passed
    assert not evaluate_gates(saving, _settings(spend_change_max_pct="-10.01")).passed
