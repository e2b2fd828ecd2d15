"""`evidence query` stays bounded on hostile SQL: a query that never ends is stopped at
--timeout, a result over --max-rows is refused without being held in memory, and text a query
makes up cannot drive the terminal (issue 8: never a hang, memory bounded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._bounded import assert_bounded, run_bounded
from tests.cli.evidence_helpers import make_store, run

NEVER_ENDS = (
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"
)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path, _, _ = make_store(tmp_path, 4)
    return path


def test_a_query_that_never_ends_is_stopped_at_the_timeout(store: Path) -> None:
    outcome = run_bounded("evidence", "query", str(store), NEVER_ENDS, "--timeout", "2")
    assert outcome.code == 3, outcome.stderr
    assert "query stopped after 2 s (--timeout)" in outcome.stderr
    assert outcome.stdout == ""
    assert_bounded(outcome)


def test_a_result_over_the_row_cap_is_refused_and_memory_stays_bounded(store: Path) -> None:
    """Ten billion rows: streamed, so the cap is reached after cap + 1 of them."""
    huge = "SELECT x FROM range(10000000000) t(x)"
    outcome = run_bounded("evidence", "query", str(store), huge, "-f", "json")
    assert outcome.code == 3, outcome.stderr
    assert "returns more than 1,000,000 rows (--max-rows)" in outcome.stderr
    assert outcome.stdout == ""
    assert_bounded(outcome)


def test_the_row_cap_is_exact(store: Path) -> None:
    at_cap = run("evidence", "query", str(store), "SELECT * FROM range(5)", "--max-rows", "5")
    assert at_cap.exit_code == 0, at_cap.stderr
    over = run("evidence", "query", str(store), "SELECT * FROM range(6)", "--max-rows", "5")
    assert over.exit_code == 3
    assert "more than 5 rows" in over.stderr


@pytest.mark.parametrize("value", ["-1", "abc"])
def test_bad_limits_are_usage_errors(store: Path, value: str) -> None:
    result = run("evidence", "query", str(store), "SELECT 1", "--timeout", value)
    assert result.exit_code == 2


def test_control_characters_a_query_makes_are_escaped_in_the_table(store: Path) -> None:
    sql = "SELECT chr(27) || '[2Jboom' || chr(7) AS cell, 1 AS n"
    result = run("evidence", "query", str(store), sql)
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout
    assert "\\x1b[2Jboom\\x07" in result.stdout


def test_duckdb_spills_to_a_private_folder_not_the_working_directory(store: Path) -> None:
    """An in-memory DuckDB spills into `.tmp` under the working directory by default."""
    import tempfile

    from nexusctl.evidence.query import open_store

    con = open_store(store)
    try:
        (spill,) = con.execute("SELECT current_setting('temp_directory')").fetchone() or ("",)
    finally:
        con.close()
    assert Path(spill).parent == Path(tempfile.gettempdir())
    assert Path(spill).name.startswith("nexusctl-duckdb-")
