"""The evidence HTML report renders in headless Chromium, offline and without console errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.evidence_helpers import make_store, records, run, write_jsonl
from tests.e2e.chromium import console_lines, dump_dom, require_browser

pytestmark = pytest.mark.e2e


def test_evidence_report_renders_offline_without_console_errors(tmp_path: Path) -> None:
    chromium = require_browser()
    store, _, _ = make_store(tmp_path, 30)
    page = tmp_path / "report.html"
    assert run("evidence", "report", str(store), "-f", "html", "-o", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, flags=re.I)
    proc = dump_dom(chromium, page, tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<h2>Spend by tenant</h2>" in proc.stdout
    # Inline SVG charts (decisions by route and by deployment, spend by tenant), parsed by
    # the browser into SVG elements: one bar per row of each charted table.
    assert proc.stdout.count('<svg role="img"') >= 3
    assert proc.stdout.count("<rect ") >= 6
    assert console_lines(proc) == []


def test_report_with_conformance_and_budgets_renders_offline(tmp_path: Path) -> None:
    chromium = require_browser()
    store, key, _ = make_store(tmp_path, 30)
    # Records served from eu-west-1, which the eu residency class does not name: breaches.
    eu = [{**r, "nexus.residency.class": "eu"} for r in records(10, first=100)]
    src = write_jsonl(tmp_path / "eu.jsonl", eu)
    assert run("evidence", "ingest", str(store), str(src), "--key", str(key)).exit_code == 0
    page = tmp_path / "report.html"
    policy = Path("policies/nebula/retail-chat.yaml")
    result = run(
        "evidence", "report", str(store), "-f", "html", "-o", str(page), "--policy", str(policy)
    )
    assert result.exit_code == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, flags=re.I)
    proc = dump_dom(chromium, page, tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<h2>Conformance to the signed policy</h2>" in proc.stdout
    assert "<title>Deviations by kind</title>" in proc.stdout
    assert "<title>Spend by tenant vs monthly budget</title>" in proc.stdout
    assert console_lines(proc) == []
