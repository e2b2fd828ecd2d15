"""The evidence HTML report renders in headless Chromium, offline and without console errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.evidence_helpers import make_store, run
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
    assert proc.stdout.count('class="bar"') >= 10
    assert console_lines(proc) == []
