"""The HTML report renders in headless Chromium or Chrome, offline and without errors."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nexusctl.traffic.synth import write_synth
from tests.e2e.chromium import CHROMIUM_FLAGS, console_lines, dump_dom, require_browser

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "nebula"
NEXUSCTL = Path(sys.executable).parent / "nexusctl"


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    traffic = folder / "synth.parquet"
    write_synth(traffic, 5000, 5)
    out = folder / "report.html"
    proc = subprocess.run(
        [
            str(NEXUSCTL),
            "simulate",
            "--baseline",
            str(POLICIES / "retail-chat.yaml"),
            "--candidate",
            str(POLICIES / "retail-chat.candidate.yaml"),
            "--traffic",
            str(traffic),
            "--format",
            "html",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 6), proc.stderr
    return out


def test_report_has_no_network_references(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html, flags=re.I)


def test_report_screenshot_in_chromium(chromium: str, report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    # A blank page compresses to a few KiB; charts, tables and text make it far larger.
    assert len(data) > 50_000


def test_report_dom_renders_without_console_errors(
    chromium: str, report: Path, tmp_path: Path
) -> None:
    proc = dump_dom(chromium, report, tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "Policy simulation: retail-chat v3 → retail-chat v4" in dom
    assert dom.count("<svg") == 5
    assert console_lines(proc) == []
