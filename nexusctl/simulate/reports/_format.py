"""Human formatting shared by the terminal, Markdown and HTML reports (JSON stays raw)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from nexusctl.simulate.result import GateResult, SimulationResult, SpendRow


def usd(micro: int, *, signed: bool = False) -> str:
    """Micro-USD rounded for reading: ``$1,234.57``; four decimals under a cent (``$0.0042``).

    Half-to-even, once, from the exact integer; the JSON document keeps the exact micro-USD.
    """
    sign = "-" if micro < 0 else ("+" if signed and micro > 0 else "")
    dollars = Decimal(abs(micro)).scaleb(-6)
    places = Decimal("0.01") if dollars >= Decimal("0.005") or not dollars else Decimal("0.0001")
    shown = dollars.quantize(places, rounding=ROUND_HALF_EVEN)
    if dollars and not shown:
        return f"{sign}<$0.0001"
    return f"{sign}${shown:,}"


def percent(value: float | None, *, signed: bool = False, digits: int = 2) -> str:
    """``12.34 %``; ``n/a`` for None."""
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f} %" if signed else f"{value:.{digits}f} %"


def points(value: float | None) -> str:
    """A difference of two percentages, in percentage points."""
    return "n/a" if value is None else f"{value:+.2f} pt"


def ms(micros: int | None) -> str:
    """Microseconds as milliseconds with one decimal; ``n/a`` for None."""
    return "n/a" if micros is None else f"{micros / 1000:,.1f} ms"


def count(n: int) -> str:
    """``1,234,567``."""
    return f"{n:,}"


def ratio(value: float | None) -> str:
    """A 0..1 ratio with three decimals; ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.3f}"


def diff(a: float | None, b: float | None) -> float | None:
    """``b - a`` when both exist."""
    return None if a is None or b is None else b - a


def gate_value(gate: GateResult) -> str:
    """A gate's measured value in its own unit."""
    if gate.value is None:
        return "n/a"
    if gate.name == "residency_violations_max":
        return f"{gate.value:.0f}"
    if gate.name.endswith("_points"):
        return f"{gate.value:.2f} pt"
    if gate.name.endswith("_pct"):
        return f"{gate.value:.2f} %"
    return f"{gate.value:.3f}"


def gate_threshold(gate: GateResult) -> str:
    """``<= 5 %`` and the like."""
    unit = " %" if gate.name.endswith("_pct") else (" pt" if gate.name.endswith("_points") else "")
    return f"{gate.comparison} {gate.threshold:g}{unit}"


def headline(result: SimulationResult) -> str:
    """One line: which policies, how many requests, and the verdict."""
    b, c = result.baseline, result.candidate
    failed = [g.name for g in result.verdict.gates if not g.passed]
    verdict = "gates passed" if not failed else "gates FAILED: " + ", ".join(failed)
    return (
        f"{b.name} v{b.version} → {c.name} v{c.version} over "
        f"{count(result.decisions.requests)} requests: {verdict}"
    )


def top_rows(rows: list[SpendRow], limit: int) -> list[SpendRow]:
    """The ``limit`` rows with the largest absolute spend change (ties by key)."""
    return sorted(rows, key=lambda r: (-abs(r.change), -max(r.baseline, r.candidate), r.key))[
        :limit
    ]


def matrix(
    transitions: list[tuple[str, str, int]],
) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """Rows (baseline labels), columns (candidate labels), and the cell counts."""
    rows = sorted({b for b, _, _ in transitions}, key=_label_order)
    cols = sorted({c for _, c, _ in transitions}, key=_label_order)
    cells = {(b, c): n for b, c, n in transitions}
    return rows, cols, cells


_TIER_ORDER = {"small": 0, "mid": 1, "frontier": 2, "none": 3, "escalated": 4, "refused": 5}


def _label_order(label: str) -> tuple[int, str]:
    return (_TIER_ORDER.get(label, 2 if not label.startswith("(") else 9), label)


def summary_rows(r: SimulationResult) -> list[list[str]]:
    """The headline comparison rows: label, baseline, candidate, change."""
    b_lat, c_lat = r.latency.baseline, r.latency.candidate
    b_out, c_out = r.outcomes.baseline, r.outcomes.candidate
    rows = [
        [
            "spend",
            usd(r.spend.baseline),
            usd(r.spend.candidate),
            f"{usd(r.spend.change, signed=True)} ({percent(r.spend.change_pct, signed=True)})",
        ],
        [
            "decisions changed",
            "",
            "",
            f"{count(r.decisions.changed)} ({percent(r.decisions.changed_pct)})",
        ],
        [
            "frontier share",
            percent(r.frontier.baseline_pct),
            percent(r.frontier.candidate_pct),
            points(diff(r.frontier.baseline_pct, r.frontier.candidate_pct)),
        ],
        [
            "SLO attainment",
            percent(b_lat.slo_attainment_pct),
            percent(c_lat.slo_attainment_pct),
            points(diff(b_lat.slo_attainment_pct, c_lat.slo_attainment_pct)),
        ],
        ["latency p50", ms(b_lat.p50_us), ms(c_lat.p50_us), ""],
        ["latency p95", ms(b_lat.p95_us), ms(c_lat.p95_us), ""],
        ["latency p99", ms(b_lat.p99_us), ms(c_lat.p99_us), ""],
        [
            "escalated + refused",
            count(b_out.escalated + b_out.refused),
            count(c_out.escalated + c_out.refused),
            points(diff(b_out.escalation_share_pct, c_out.escalation_share_pct)),
        ],
        [
            "residency violations",
            count(r.residency.baseline_violations),
            count(r.residency.candidate_violations),
            "",
        ],
    ]
    if r.quality is not None:
        q = r.quality
        rows += [
            [
                f"accuracy ({count(q.labelled)} labelled)",
                ratio(q.baseline_accuracy),
                ratio(q.candidate_accuracy),
                "",
            ],
            ["PGR", ratio(q.baseline_pgr), ratio(q.candidate_pgr), ""],
        ]
    return rows
