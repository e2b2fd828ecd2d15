"""Headless Chromium (or Chrome) for the report tests: find it, dump a page's DOM offline."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Looked up in this order (scripts/ensure-chromium.sh uses the same list): Debian's package,
#: Ubuntu's name for it, Google Chrome (GitHub's hosted runners).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """$CHROME_BIN when it is executable, else the first browser of BROWSERS on PATH."""
    explicit = os.environ.get("CHROME_BIN")
    if explicit and os.access(explicit, os.X_OK):
        return explicit
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def require_browser() -> str:
    """The browser to test with; a missing one fails the test (never skips it)."""
    path = find_browser()
    if path is None:
        pytest.fail(
            f"a headless browser is required ({', '.join(BROWSERS)} or $CHROME_BIN): run "
            "`make tools` (installs Debian's chromium as root or with passwordless sudo)"
        )
    return path


def dump_dom(browser: str, page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    """Render ``page`` headless with console logging on stderr; the DOM is on stdout."""
    return subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
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


def console_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The page's console messages, as Chromium logs them on stderr."""
    return [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
