"""The evidence HTML report renders in headless Chromium, offline and without console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.evidence_helpers import make_store, run
from tests.e2e.test_report_html_chromium import CHROMIUM_FLAGS

pytestmark = pytest.mark.e2e


def test_evidence_report_renders_offline_without_console_errors(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is required (make tools, or: apt-get install -y chromium)")
    store, _, _ = make_store(tmp_path, 30)
    page = tmp_path / "report.html"
    assert run("evidence", "report", str(store), "-f", "html", "-o", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, flags=re.I)
    proc = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<h2>Spend by tenant</h2>" in proc.stdout
    assert proc.stdout.count('class="bar"') >= 10
    assert [line for line in proc.stderr.splitlines() if "CONSOLE" in line] == []
