"""``evidence query`` and ``evidence report`` on Spark give DuckDB's rows, row for row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from nexusctl.evidence.query import run_query
from nexusctl.evidence.report import ReportFilter, build_report
from nexusctl.spark import SparkSettings
from nexusctl.spark.evidence import build_report as build_report_on_spark
from nexusctl.spark.evidence import run_query as run_query_on_spark
from nexusctl.spark.evidence import spark_sql
from tests.cli.evidence_helpers import make_store, run

#: The auditor query pack of docs/evidence.md, each as (DuckDB SQL, Spark SQL, parameters). The
#: reasons query unnests in a subquery: DuckDB refuses GROUP BY ALL over an UNNEST.
AUDITOR_QUERIES = [
    (
        "SELECT environment, policy_name, policy_version, policy_digest, count(*) AS decisions "
        "FROM decisions WHERE dt BETWEEN $from AND $to GROUP BY ALL ORDER BY decisions DESC",
        "SELECT environment, policy_name, policy_version, policy_digest, count(*) AS decisions "
        "FROM decisions WHERE dt BETWEEN :from AND :to GROUP BY ALL ORDER BY decisions DESC",
        {"from": "2026-01-01", "to": "2026-01-02"},
    ),
    (
        "SELECT residency_class, region, count(*) FROM decisions GROUP BY ALL ORDER BY 1, 2",
        "SELECT residency_class, region, count(*) FROM decisions GROUP BY ALL ORDER BY 1, 2",
        {},
    ),
    (
        "SELECT outcome, escalation_target, reason, count(*) AS n FROM (SELECT outcome, "
        "escalation_target, unnest(reasons) AS reason FROM decisions WHERE outcome <> 'routed') "
        "GROUP BY ALL ORDER BY n DESC, 1, 2, 3",
        "SELECT outcome, escalation_target, reason, count(*) AS n FROM (SELECT outcome, "
        "escalation_target, explode(reasons) AS reason FROM decisions WHERE outcome <> 'routed') "
        "GROUP BY ALL ORDER BY n DESC, 1, 2, 3",
        {},
    ),
    (
        "SELECT tenant, sum(cost_pusd) / 1e12 AS usd FROM decisions GROUP BY 1 "
        "ORDER BY usd DESC, 1",
        "SELECT tenant, sum(cost_pusd) / 1e12 AS usd FROM decisions GROUP BY 1 "
        "ORDER BY usd DESC, 1",
        {},
    ),
    (
        "SELECT * FROM decisions WHERE request_id = $id ORDER BY time",
        "SELECT * FROM decisions WHERE request_id = :id ORDER BY time",
        {"id": "req-7"},
    ),
    (
        "SELECT r.request_id, r.deployment_id AS real, c.deployment_id AS simulated "
        "FROM decisions r JOIN counterfactual_decisions c USING (request_id) "
        "WHERE r.deployment_id IS DISTINCT FROM c.deployment_id ORDER BY 1",
        "SELECT r.request_id, r.deployment_id AS real, c.deployment_id AS simulated "
        "FROM decisions r JOIN counterfactual_decisions c USING (request_id) "
        "WHERE r.deployment_id IS DISTINCT FROM c.deployment_id ORDER BY 1",
        {},
    ),
    (
        "SELECT dt, min(time) AS first, max(time) AS last, count(*) AS n FROM decisions "
        "GROUP BY dt ORDER BY dt",
        "SELECT dt, min(time) AS first, max(time) AS last, count(*) AS n FROM decisions "
        "GROUP BY dt ORDER BY dt",
        {},
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _, _ = make_store(tmp_path_factory.mktemp("evidence"), 60)
    return root


@pytest.mark.parametrize(("duckdb_sql", "spark_sql_text", "params"), AUDITOR_QUERIES)
def test_auditor_queries_equal_duckdb(
    spark: SparkSession, store: Path, duckdb_sql: str, spark_sql_text: str, params: dict[str, str]
) -> None:
    expected = run_query(store, duckdb_sql, params)
    got = run_query_on_spark(store, spark_sql_text, params, SparkSettings())
    assert got.rows == expected.rows
    assert len(expected.rows) > 0 or "counterfactual" in duckdb_sql


@pytest.mark.parametrize(
    "selection",
    [
        ReportFilter(),
        ReportFilter(tenant="retail"),
        ReportFilter(
            start=dt.date(2026, 1, 2),
            end=dt.date(2026, 1, 2),
        ),
    ],
)
def test_report_equals_duckdb(spark: SparkSession, store: Path, selection: ReportFilter) -> None:
    expected = build_report(store, selection)
    got = build_report_on_spark(store, selection, settings=SparkSettings())
    assert got.totals == expected.totals
    assert got.logs == expected.logs
    for ours, theirs in zip(got.sections, expected.sections, strict=True):
        assert ours == theirs, theirs.id
    assert got.__dict__ == expected.__dict__


def test_cli_report_json_equal(spark: SparkSession, store: Path) -> None:
    duck = run("evidence", "report", str(store), "-f", "json")
    assert duck.exit_code == 0, duck.stderr
    ours = run("evidence", "report", str(store), "-f", "json", "--engine", "spark")
    assert ours.exit_code == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(duck.stdout)


def test_cli_query_with_params(spark: SparkSession, store: Path) -> None:
    sql = "SELECT tenant, count(*) AS n FROM decisions WHERE outcome = {} GROUP BY 1 ORDER BY 1"
    duck = run("evidence", "query", str(store), sql.format("$o"), "-p", "o=routed", "-f", "json")
    ours = run(
        "evidence", "query", str(store), sql.format(":o"), "-p", "o=routed", "-f", "json",
        "--engine", "spark",
    )  # fmt: skip
    assert ours.exit_code == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(duck.stdout)


@pytest.mark.parametrize(
    "sql",
    [
        "DROP VIEW decisions",
        "SELECT 1; SELECT 2",
        "CREATE TABLE t AS SELECT 1",
        "INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1",
        "SELECT * FROM parquet.`/etc/hostname`",
        "SELECT 1) ; DROP VIEW decisions; (SELECT 1",
    ],
)
def test_query_is_read_only(spark: SparkSession, store: Path, sql: str) -> None:
    result = run("evidence", "query", str(store), sql, "--engine", "spark")
    assert result.exit_code == 3, result.stdout
    assert "Traceback" not in result.stderr
    assert spark.sql("SELECT count(*) FROM decisions").collect()[0][0] == 60


def test_report_queries_translate() -> None:
    text = spark_sql("SELECT array_to_string(r, ','), sum(cost_pusd) FROM d WHERE dt >= $start")
    assert text == (
        "SELECT array_join(r, ','), sum(CAST(cost_pusd AS DECIMAL(38, 0))) FROM d "
        "WHERE dt >= :start"
    )


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT reflect('java.lang.System', 'setProperty', 'nexusctl.sandbox', 'x')", "reflect"),
        ("SELECT JAVA_METHOD('java.lang.System', 'setProperty', 'nexusctl.sandbox', 'x')", "java"),
        (
            "SELECT system.builtin.java_method('java.lang.System', 'setProperty', "
            "'nexusctl.sandbox', 'x')",
            "java_method",
        ),
        ("SELECT try_reflect('java.lang.System', 'setProperty', 'nexusctl.sandbox', 'x')", "try"),
        (
            "WITH t AS (SELECT `reflect`('java.lang.System', 'setProperty', 'nexusctl.sandbox', "
            "'x') AS v) SELECT * FROM t",
            "reflect",
        ),
        (
            "SELECT request_id FROM decisions WHERE tenant IN (SELECT reflect("
            "'java.lang.System', 'setProperty', 'nexusctl.sandbox', 'x'))",
            "reflect",
        ),
        (
            "SELECT transform(reasons, r -> reflect('java.lang.System', 'setProperty', "
            "'nexusctl.sandbox', r)) FROM decisions",
            "reflect",
        ),
        ("SELECT TRANSFORM(tenant) USING 'touch {marker}' AS (x) FROM decisions", "TRANSFORM"),
        ("SELECT input_file_name() FROM decisions", "input_file_name"),
        ("SELECT input_file_block_start() FROM decisions", "input_file_block_start"),
        ("SELECT xpath_string('<a>1</a>', 'a')", "xpath"),
        ("SELECT from_xml('<a>1</a>', 'a INT')", "from_xml"),
    ],
)
def test_query_refuses_jvm_process_and_file_access(
    spark: SparkSession, store: Path, tmp_path: Path, sql: str, named: str
) -> None:
    marker = tmp_path / "ran"
    result = run("evidence", "query", str(store), sql.format(marker=marker), "--engine", "spark")
    assert result.exit_code == 3, result.stdout
    assert "query refused:" in result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    # Refused in the analyzed plan, before anything ran.
    assert spark.sparkContext._jvm.java.lang.System.getProperty("nexusctl.sandbox") is None
    assert not marker.exists()


def test_conf_cannot_turn_file_queries_back_on(spark: SparkSession, store: Path) -> None:
    result = run(
        "evidence", "query", str(store), "SELECT * FROM parquet.`/etc/hostname`",
        "--engine", "spark", "--conf", "spark.sql.runSQLOnFiles=true",
    )  # fmt: skip
    assert result.exit_code == 3, result.stdout
    assert "Traceback" not in result.stderr


def test_allowed_functions_still_run(spark: SparkSession, store: Path) -> None:
    sql = (
        "SELECT upper(tenant) AS t, count(*) AS n, max(size(reasons)) AS r FROM decisions "
        "WHERE request_id RLIKE 'req-[0-9]+' GROUP BY 1 ORDER BY 1"
    )
    result = run_query_on_spark(store, sql, {}, SparkSettings())
    assert sum(row[1] for row in result.rows) == 60


def test_failed_query_is_one_line(spark: SparkSession, store: Path) -> None:
    result = run("evidence", "query", str(store), "SELECT no_such_column FROM decisions",
                 "--engine", "spark")  # fmt: skip
    assert result.exit_code == 3, result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: query failed:"), result.stderr
    assert len(lines) == 2, result.stderr  # the error and its hint: no JSON log, no JVM stack
    assert lines[1].startswith("hint:")


def test_spark_query_limits(spark: SparkSession, store: Path) -> None:
    """At most cap + 1 rows reach the driver; a query past the timeout has its jobs cancelled."""
    from nexusctl.errors import InputError
    from nexusctl.evidence.query import QueryLimits

    at_cap = run_query_on_spark(
        store, "SELECT * FROM range(5)", {}, SparkSettings(), QueryLimits(max_rows=5)
    )
    assert len(at_cap.rows) == 5
    with pytest.raises(InputError, match="more than 5 rows"):
        run_query_on_spark(
            store, "SELECT * FROM range(6)", {}, SparkSettings(), QueryLimits(max_rows=5)
        )
    endless = "SELECT count(*) FROM range(1000000000000000) WHERE id % 7 = 3"
    with pytest.raises(InputError, match=r"query stopped after 3 s \(--timeout\)"):
        run_query_on_spark(store, endless, {}, SparkSettings(), QueryLimits(timeout_s=3))
    again = run_query_on_spark(store, "SELECT count(*) FROM decisions", {}, SparkSettings())
    assert again.rows == [(60,)]  # the session still serves queries after the cancel
