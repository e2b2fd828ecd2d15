"""The reviewer's view: window, monthly projection against budgets, routes to look at."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexusctl.errors import EnvironmentError_
from nexusctl.policy.loader import load_policy
from nexusctl.simulate.reports import ReportFormat, render
from nexusctl.simulate.reports.outputs import write_atomic
from nexusctl.simulate.reports.terminal import Line, terminal_view
from nexusctl.simulate.result import Review, SimulationResult
from nexusctl.simulate.review import MONTH_MS, build_review, traffic_window
from nexusctl.simulate.run import SimulationRequest, simulate
from nexusctl.traffic.synth import write_synth
from tests.assets.simulate.simulate_results import make_result

REPO = Path(__file__).resolve().parents[2]
RETAIL = REPO / "policies" / "nebula" / "retail-chat.yaml"
DAY_MS = 86_400_000


def _reviewed(window: tuple[int, int] | None = (0, DAY_MS)) -> SimulationResult:
    policy = load_policy(RETAIL).policy
    result = make_result(baseline_spend=1_000_000, candidate_spend=2_000_001)
    return result.model_copy(update={"review": build_review(result, policy, policy, window)})


def test_a_day_of_spend_projects_exactly_to_the_mean_gregorian_month() -> None:
    assert MONTH_MS == 365.2425 / 12 * DAY_MS
    review = _review(_reviewed())
    assert review.window is not None
    tenant = next(t for t in review.tenants if t.tenant == "retail-banking")
    assert tenant.baseline_month == 30_436_875  # 1 USD a day, exactly
    # 2,000,001 x 30.436875 = 60,873,780.436875 -> rounds to 60,873,780
    assert tenant.candidate_month == 60_873_780
    assert tenant.candidate_monthly_budget == 40_000_000_000
    assert tenant.candidate_budget_pct == pytest.approx(60_873_780 / 400_000_000)
    wealth = next(t for t in review.tenants if t.tenant == "wealth")
    assert (wealth.baseline, wealth.candidate_month) == (0, 0)  # a budget, no traffic
    assert review.window.first == "1970-01-01T00:00:00Z"
    assert review.window.duration_ms == DAY_MS


def _review(result: SimulationResult) -> Review:
    assert result.review is not None
    return result.review


def test_a_window_of_zero_length_projects_nothing() -> None:
    result = _reviewed((5, 5))
    assert all(t.candidate_month is None for t in _review(result).tenants)
    assert "too short to project" in render(result, ReportFormat.markdown)


def test_routes_without_traffic_are_called_out_in_every_report() -> None:
    result = _reviewed()
    review = _review(result)
    quiet = {(r.side, r.route_id) for r in review.routes if "no_traffic" in r.attention}
    # make_result sends everything to 'advice': faq, vision-statements, default saw nothing
    assert ("candidate", "faq") in quiet
    assert ("baseline", "default") in quiet
    assert ("candidate", "advice") not in quiet
    sentence = "route faq matched 0 requests"
    assert sentence in render(result, ReportFormat.markdown)
    assert sentence in render(result, ReportFormat.html)
    lines = [b.text for b in terminal_view(result) if isinstance(b, Line)]
    assert any(sentence in line for line in lines)


def test_markdown_explains_pgr_and_points_and_rounds_money() -> None:
    text = render(_reviewed(), ReportFormat.markdown)
    assert "pt = percentage points" in text
    assert "PGR = performance gap recovered" in text
    assert "| spend | $1.00 | $2.00 | +$1.00 (+100.00 %) |" in text
    assert "% change" in text


def test_the_window_comes_from_the_footer_or_the_column(tmp_path: Path) -> None:
    synth = tmp_path / "synth.parquet"
    write_synth(synth, 500, 3)
    window = traffic_window(pq.ParquetFile(synth))
    times = pq.read_table(synth, columns=["time"]).column("time").cast(pa.int64()).to_pylist()
    assert window == (min(times), max(times))
    bare = tmp_path / "bare.parquet"
    pq.write_table(pq.read_table(synth), bare, write_statistics=False)
    assert traffic_window(pq.ParquetFile(bare)) == window
    assert traffic_window(None) is None


def test_a_replay_flags_a_route_the_traffic_never_reaches(tmp_path: Path) -> None:
    synth = tmp_path / "synth.parquet"
    write_synth(synth, 300, 3)
    result = simulate(SimulationRequest(RETAIL, RETAIL, synth))
    assert result.review is not None
    routes = {(r.side, r.route_id): r for r in result.review.routes}
    assert set(routes) == {
        (side, route)
        for side in ("baseline", "candidate")
        for route in ("faq", "vision-statements", "advice", "default")
    }
    for route in routes.values():
        assert ("no_traffic" in route.attention) == (route.requests == 0)
    assert sum(r.requests for r in routes.values() if r.side == "baseline") == 300


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    with pytest.raises(EnvironmentError_, match="cannot write the report"):
        write_atomic(tmp_path / "missing" / "report.md", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_html_uses_the_page_width_and_highlights_what_needs_a_look() -> None:
    html = render(_reviewed(), ReportFormat.html)
    assert "max-width" not in html.split("</style>")[0]
    assert "table{border-collapse:collapse;margin:8px 0;font-size:13px;width:100%}" in html
    assert "<div class='look'><b>Needs a look</b>" in html
    assert "<tr class='flag'><td>faq</td>" in html  # the route with no traffic
    assert "% change" in html
    assert "PGR = performance gap recovered" in html
