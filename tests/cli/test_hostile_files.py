"""Special files and hostile JSON/YAML given to policy show, explain, catalog prices, lint and
simulate gates: each refused with exit 3 and a one-line reason, in bounded time and memory.

Issue 8 Part 2: ``/dev/zero`` grew to gigabytes (a size cap trusted ``stat().st_size``), a FIFO
hung the reader, 100k-deep JSON and 4,400-digit integers crashed with exit 70.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.cli._bounded import assert_bounded, run_bounded
from tests.conftest import ASSETS, POLICIES

HOSTILE = ASSETS / "hostile"
POLICY = str(POLICIES / "retail-chat.yaml")
GOOD_REQUEST = '{"tenant": "retail-banking", "app": "web-chat", "residencyClass": "ca", ' + (
    '"inputTokens": 600, "outputTokens": 150}'
)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A FIFO with no writer: opening it for reading would block forever."""
    path = tmp_path / "policy.yaml"
    os.mkfifo(path)
    return path


def _one_line_error(stderr: str, *fragments: str) -> None:
    first = stderr.splitlines()[0]
    assert first.startswith("error: ")
    for fragment in fragments:
        assert fragment in first, first


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_explain_request_from_dev_zero_is_refused() -> None:
    outcome = run_bounded("policy", "explain", POLICY, "-r", "@/dev/zero")
    assert outcome.code == 3
    _one_line_error(outcome.stderr, "/dev/zero", "not a regular file")
    assert outcome.stdout == ""
    assert_bounded(outcome)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_policy_show_of_dev_zero_is_refused() -> None:
    outcome = run_bounded("policy", "show", "/dev/zero")
    assert outcome.code == 3
    _one_line_error(outcome.stderr, "/dev/zero", "not a regular file")
    assert_bounded(outcome)


def test_policy_show_of_a_fifo_does_not_hang(fifo: Path) -> None:
    outcome = run_bounded("policy", "show", str(fifo))
    assert outcome.code == 3
    _one_line_error(outcome.stderr, str(fifo), "not a regular file")
    assert_bounded(outcome)


def test_explain_request_from_a_fifo_does_not_hang(fifo: Path) -> None:
    outcome = run_bounded("policy", "explain", POLICY, "-r", f"@{fifo}")
    assert outcome.code == 3
    _one_line_error(outcome.stderr, str(fifo), "not a regular file")
    assert_bounded(outcome)


def test_lint_of_a_fifo_reports_nxl000_without_hanging(fifo: Path) -> None:
    outcome = run_bounded("policy", "lint", str(fifo))
    assert outcome.code == 3
    assert "NXL000" in outcome.stdout
    assert "not a regular file" in outcome.stdout
    assert_bounded(outcome)


def test_catalog_price_table_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    table = tmp_path / "prices.json"
    os.mkfifo(table)
    outcome = run_bounded(
        "catalog", "prices", str(ASSETS / "prices" / "catalog.yaml"), "--from", "litellm",
        "--table", str(table),
    )  # fmt: skip
    assert outcome.code == 3
    _one_line_error(outcome.stderr, "not a regular file")
    assert_bounded(outcome)


PRICE_TABLES = [
    ("deep-100k.json", "nested deeper than 32 levels"),
    ("huge-int.json", "(4401 digits) is outside ±(2^53-1)"),
    ("infinite.json", "number 1e400 is too large"),
    ("nan.json", "NaN is not JSON"),
    ("duplicate-key.json", "duplicate key 'acme/model-a'"),
]


def _prices(table: Path) -> list[str]:
    catalog = str(ASSETS / "prices" / "catalog.yaml")
    return ["catalog", "prices", catalog, "--from", "litellm", "--table", str(table)]


@pytest.mark.parametrize(("name", "reason"), PRICE_TABLES[:2])
def test_price_table_bomb_is_an_input_error_in_bounded_memory(name: str, reason: str) -> None:
    outcome = run_bounded(*_prices(HOSTILE / "prices" / name))
    assert outcome.code == 3, outcome.stderr
    _one_line_error(outcome.stderr, name, "price table", reason)
    assert_bounded(outcome)


@pytest.mark.parametrize(("name", "reason"), PRICE_TABLES)
def test_hostile_price_table_is_an_input_error(name: str, reason: str) -> None:
    result = CliRunner().invoke(app, _prices(HOSTILE / "prices" / name), prog_name="nexusctl")
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""
    _one_line_error(result.stderr, name, "price table", reason)
    assert len(result.stderr.splitlines()) == 1


def test_lint_reports_a_hostile_price_table_as_nxl000(tmp_path: Path) -> None:
    shutil.copy(ASSETS / "prices" / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copy(HOSTILE / "prices" / "deep-100k.json", tmp_path / "prices-ok.json")
    outcome = run_bounded("policy", "lint", "--format", "json", str(tmp_path / "catalog.yaml"))
    assert outcome.code == 3
    assert "NXL000" in outcome.stdout
    assert "nested deeper than 32 levels" in outcome.stdout
    assert_bounded(outcome)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("deep-100k.json", "nested deeper than 32 levels"),
        ("huge-int.json", "(4401 digits) is outside ±(2^53-1)"),
    ],
)
def test_explain_request_bomb_is_an_input_error_in_bounded_memory(name: str, reason: str) -> None:
    outcome = run_bounded("policy", "explain", POLICY, "-r", f"@{HOSTILE / 'requests' / name}")
    assert outcome.code == 3, outcome.stderr
    _one_line_error(outcome.stderr, name, reason)
    assert_bounded(outcome)


def test_explain_request_on_stdin_is_bounded_too() -> None:
    deep = (HOSTILE / "requests" / "deep-100k.json").read_bytes()
    outcome = run_bounded("policy", "explain", POLICY, "-r", "-", stdin=deep)
    assert outcome.code == 3
    _one_line_error(outcome.stderr, "request (stdin)", "nested deeper than 32 levels")
    huge = run_bounded("policy", "explain", POLICY, "-r", "-", stdin=b" " * (2 << 20))
    assert huge.code == 3
    _one_line_error(huge.stderr, "larger than the 1 MiB limit")
    assert_bounded(huge)


def test_a_good_request_still_routes() -> None:
    """The bounds refuse hostile input only: the same command routes a real request."""
    outcome = run_bounded("policy", "explain", POLICY, "-r", GOOD_REQUEST, "--format", "json")
    assert outcome.code == 0, outcome.stderr
    assert '"outcome": "routed"' in outcome.stdout


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("gates-nan.yaml", "spec.spendChangeMaxPct: Input should be a finite number"),
        ("gates-inf.yaml", "spec.spendChangeMaxPct: Input should be a finite number"),
        ("gates-minus-inf.yaml", "spec.spendChangeMaxPct: Input should be a finite number"),
        ("gates-huge-int.yaml", "integer with more than 4300 digits"),
    ],
)
def test_hostile_gates_file_is_an_input_error(name: str, reason: str) -> None:
    gates = str(HOSTILE / "gates" / name)
    args = ["simulate", "--baseline", POLICY, "--candidate", POLICY, "--traffic", gates]
    result = CliRunner().invoke(app, [*args, "--gates", gates], prog_name="nexusctl")
    assert result.exit_code == 3, result.stderr
    _one_line_error(result.stderr, name, reason)
    assert "Traceback" not in result.stderr
