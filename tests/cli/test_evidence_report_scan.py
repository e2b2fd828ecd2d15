"""The report reads the store once: its figures equal each section's SQL run over the view.

``duckdb_figures`` copies a small selection into a temporary table (a large one is queried
over the view) and bounds the time column by the date range; these tests run the published
SQL (``SECTIONS``, shared with Spark) straight over the ``decisions`` view, as the report did
before, and compare row for row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from nexusctl.evidence import report
from nexusctl.evidence.query import open_store
from nexusctl.evidence.report import SECTIONS, ReportFilter, duckdb_figures
from nexusctl.evidence.report_model import Section
from tests.cli.evidence_helpers import DAY_US, START_US, records, run, write_jsonl


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("scan")
    key = tmp / "log.key"
    assert run("evidence", "keygen", "scan.example/evidence", "-o", str(key)).exit_code == 0
    root = tmp / "store"
    assert run("evidence", "init", str(root), "--key", f"{key}.vkey").exit_code == 0
    rows = records(80, days=4)
    # Records on the first and last microsecond of 2026-01-02 and 2026-01-03: a date bound
    # translated to time must keep both ends of each day and nothing of the next.
    edges = [START_US + DAY_US, START_US + 2 * DAY_US - 1, START_US + 2 * DAY_US]
    edges.append(START_US + 3 * DAY_US - 1)
    for n, time in enumerate(edges):
        rows.append(
            {
                **rows[n],
                "nexus.request.id": f"edge-{n}",
                "nexus.request.time_unix_us": time,
                "nexus.app.id": "edge-app",
                "nexus.environment": "staging",
            }
        )
    rows.sort(key=lambda r: r["nexus.request.time_unix_us"])
    source = write_jsonl(tmp / "in.jsonl", rows)
    result = run("evidence", "ingest", str(root), str(source), "--key", str(key))
    assert result.exit_code == 0, result.stderr
    return root


def _over_view(root: Path, selection: ReportFilter) -> tuple[tuple[Any, ...], list[Section]]:
    """Each section's SQL over the view, one query each (the reference)."""
    where, params = selection.where()
    con = open_store(root)
    try:
        sql = "SELECT count(*), sum(cost_pusd), min(time)::VARCHAR, max(time)::VARCHAR "
        total = con.execute(sql + "FROM decisions " + where, params or None).fetchone()
        sections = []
        for section, title, text in SECTIONS:
            cursor = con.execute(text.format(where=where), params or None)
            columns = [d[0] for d in cursor.description or []]
            rows = [[v if v is None or isinstance(v, int | str) else str(v) for v in row]
                    for row in cursor.fetchall()]  # fmt: skip
            sections.append(Section(id=section, title=title, columns=columns, rows=rows))
    finally:
        con.close()
    assert total is not None
    return total, sections


@pytest.mark.parametrize(
    "selection",
    [
        ReportFilter(),
        ReportFilter(tenant="retail"),
        ReportFilter(start=dt.date(2026, 1, 2), end=dt.date(2026, 1, 2)),
        ReportFilter(start=dt.date(2026, 1, 3)),
        ReportFilter(end=dt.date(2026, 1, 2), tenant="wealth"),
        ReportFilter(app="edge-app", environment="staging", start=dt.date(2026, 1, 2)),
        ReportFilter(tenant="nobody"),
    ],
)
@pytest.mark.parametrize("limit", [0, report.MATERIALISE_ROWS])
def test_one_scan_equals_each_section_over_the_view(
    store: Path, selection: ReportFilter, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # limit 0: every selection is too large to copy, so the sections read the view itself.
    monkeypatch.setattr(report, "MATERIALISE_ROWS", limit)
    total, expected = _over_view(store, selection)
    totals, sections = duckdb_figures(store, selection)
    assert (totals.decisions, totals.first, totals.last) == (total[0], total[2], total[3])
    assert totals.spend_pusd == (total[1] or 0)
    assert sections == expected
    if selection.tenant != "nobody":
        assert totals.decisions > 0


def test_date_bounds_keep_whole_days(store: Path) -> None:
    totals, _ = duckdb_figures(
        store, ReportFilter(start=dt.date(2026, 1, 2), end=dt.date(2026, 1, 2), app="edge-app")
    )
    assert totals.decisions == 2
    assert totals.first == "2026-01-02 00:00:00"
    assert totals.last == "2026-01-02 23:59:59.999999"
