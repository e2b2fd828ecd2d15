"""Finding (or installing) the headless browser works where CI runs: not root, Google Chrome."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.chromium import find_browser

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure-chromium.sh"


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _bin(tmp_path: Path, *, uid: int, sudo: bool, browser: str | None) -> Path:
    """A PATH with only what the script may use: fake id, apt-get, sudo and browser."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for real in ("env", "true"):
        target = shutil.which(real)
        assert target
        (folder / real).symlink_to(target)
    log = tmp_path / "calls.log"
    _tool(folder, "id", f"echo {uid}")
    _tool(folder, "apt-get", f'echo "apt-get $*" >> {log}')
    if sudo:
        _tool(folder, "sudo", f'echo "sudo $*" >> {log}\nshift\nexec "$@"')
    if browser:
        _tool(folder, browser, "exit 0")
    return folder


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, str(SCRIPT)],
        env={"PATH": str(folder)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("browser", ["chromium", "chromium-browser", "google-chrome"])
def test_an_installed_browser_needs_no_install(tmp_path: Path, browser: str) -> None:
    proc = _run(_bin(tmp_path, uid=1001, sudo=False, browser=browser))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "calls.log").exists()


def test_a_runner_user_installs_through_passwordless_sudo(tmp_path: Path) -> None:
    proc = _run(_bin(tmp_path, uid=1001, sudo=True, browser=None))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0] == "sudo -n true"
    assert "sudo -n apt-get update -qq" in calls
    assert any(c.startswith("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get") for c in calls)
    assert all(c.startswith("sudo") or c.startswith("apt-get") for c in calls)


def test_root_installs_without_sudo(tmp_path: Path) -> None:
    proc = _run(_bin(tmp_path, uid=0, sudo=False, browser=None))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0] == "apt-get update -qq"
    assert calls[1].startswith("apt-get install -y -qq chromium")


def test_no_root_and_no_sudo_is_a_clear_failure_with_no_install(tmp_path: Path) -> None:
    proc = _run(_bin(tmp_path, uid=1001, sudo=False, browser=None))
    assert proc.returncode == 1
    assert "needs root or passwordless sudo" in proc.stderr
    assert not (tmp_path / "calls.log").exists()


def test_the_test_suite_finds_google_chrome_and_chrome_bin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _bin(tmp_path, uid=1001, sudo=False, browser="google-chrome")
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("CHROME_BIN", raising=False)
    assert find_browser() == str(folder / "google-chrome")
    _tool(tmp_path, "my-chrome", "exit 0")
    monkeypatch.setenv("CHROME_BIN", str(tmp_path / "my-chrome"))
    assert find_browser() == str(tmp_path / "my-chrome")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CHROME_BIN")
    assert find_browser() is None
