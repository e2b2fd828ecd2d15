"""``simulate --engine spark`` gives the NumPy engine's JSON document, field for field.

Everything but ``engine`` must be equal: counts, exact spend, percentiles, residency examples,
reasons, quality, gates. Two traffic files: the shipped Azure code trace with the demo's
enrichment and quality labels (demo/30-traffic.sh), and 200,000 synthetic requests rewritten
in small row groups, so Spark's scan cuts the file mid-second, with the broadcast join off,
so the load is computed by the shuffled, second-partitioned window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from tests.conftest import POLICIES

NEBULA = POLICIES
#: Rows per row group of the rewritten synthetic file: not a divisor of anything in it.
ROW_GROUP = 7_777


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="nexusctl")


def both_engines(
    spark: SparkSession, *args: str, spark_conf: tuple[str, ...] = ()
) -> tuple[Any, Any]:
    """The JSON result of ``simulate ARGS`` from each engine (exit code 0 or 6 each)."""
    local = run("simulate", *args, "--format", "json")
    assert local.exit_code in (0, 6), local.stderr
    conf = [item for pair in spark_conf for item in ("--conf", pair)]
    distributed = run("simulate", *args, "--format", "json", "--engine", "spark", *conf)
    assert distributed.exit_code == local.exit_code, distributed.stderr
    return json.loads(local.stdout), json.loads(distributed.stdout)


def assert_same_but_engine(local: dict[str, Any], distributed: dict[str, Any]) -> None:
    assert local.pop("engine") == "numpy"
    assert distributed.pop("engine") == "spark"
    for key in local:  # one key at a time: a failure names the section
        assert distributed[key] == local[key], key
    assert distributed == local


@pytest.fixture(scope="module")
def azure_traffic(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("azure") / "azure-code.parquet"
    result = run(
        "traffic", "import", "azure",
        str(shared_data_dir / "traces" / "azure_llm_inference_code_2023.csv"),
        "--enrich", str(NEBULA / "enrichment" / "azure-code.yaml"),
        "--quality", str(shared_data_dir / "quality" / "routellm_gsm8k_responses.csv"),
        "--quality-format", "routellm-gsm8k",
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def synth_traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    made = folder / "made.parquet"
    result = run(
        "traffic", "synth", "--rows", "200000", "--seed", "7",
        "--policy", str(NEBULA / "retail-chat.yaml"), "-o", str(made),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    source = pq.ParquetFile(made)
    out = folder / "synth-small-groups.parquet"
    table = source.read()
    pq.write_table(table, out, row_group_size=ROW_GROUP)
    # The file's key-value metadata stays the importer's (it is part of the result).
    meta = source.schema_arrow.metadata
    if meta:
        pq.write_table(table.replace_schema_metadata(meta), out, row_group_size=ROW_GROUP)
    return out


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder missing at {SHARED_DATA}; CI places it beside the repo")
    return SHARED_DATA


@pytest.mark.slow
def test_azure_trace_same_result(spark: SparkSession, azure_traffic: Path) -> None:
    local, distributed = both_engines(
        spark,
        "--baseline", str(NEBULA / "code-assistant.yaml"),
        "--candidate", str(NEBULA / "code-assistant.candidate.yaml"),
        "--traffic", str(azure_traffic),
        "--gate", "changed_decisions_max_pct=30",
    )  # fmt: skip
    assert local["decisions"]["requests"] == pq.ParquetFile(azure_traffic).metadata.num_rows
    assert local["quality"] is not None  # the labels were joined, so quality is compared too
    assert_same_but_engine(local, distributed)


@pytest.mark.slow
def test_synthetic_split_mid_second_same_result(spark: SparkSession, synth_traffic: Path) -> None:
    times = pq.read_table(synth_traffic, columns=["time"]).column("time").cast("int64")
    seconds = [times[i].as_py() // 1000 for i in range(len(times))]
    cut_mid_second = [
        b for b in range(ROW_GROUP, len(seconds), ROW_GROUP) if seconds[b - 1] == seconds[b]
    ]
    assert cut_mid_second, "the row groups should cut some second in two"
    conf = (
        "spark.sql.files.maxPartitionBytes=65536",
        "spark.sql.autoBroadcastJoinThreshold=-1",
        "spark.sql.shuffle.partitions=7",
    )
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    partitions = spark.read.parquet(str(synth_traffic)).rdd.getNumPartitions()
    assert partitions >= 8, partitions
    local, distributed = both_engines(
        spark,
        "--baseline", str(NEBULA / "retail-chat.yaml"),
        "--candidate", str(NEBULA / "retail-chat.candidate.yaml"),
        "--traffic", str(synth_traffic),
        spark_conf=conf,
    )  # fmt: skip
    assert local["decisions"]["changed"] > 0
    assert_same_but_engine(local, distributed)


@pytest.mark.slow
def test_repriced_catalog_same_result(spark: SparkSession, synth_traffic: Path) -> None:
    local, distributed = both_engines(
        spark,
        "--baseline", str(NEBULA / "retail-chat.yaml"),
        "--candidate", str(NEBULA / "candidates" / "retail-chat.yaml"),
        "--traffic", str(synth_traffic),
        "--allow-catalog-change",
    )  # fmt: skip
    assert local["catalog_changed"] is True
    assert_same_but_engine(local, distributed)


def test_time_going_back_is_refused_like_numpy(
    spark: SparkSession, synth_traffic: Path, tmp_path: Path
) -> None:
    table = pq.read_table(synth_traffic).slice(0, 5000)
    # Row 4900 moved up to row 3000 (0-based): row 3001 is then earlier than row 3000.
    swapped = table.take([*range(0, 3000), 4900, *range(3000, 4900), *range(4901, 5000)])
    bad = tmp_path / "unsorted.parquet"
    pq.write_table(swapped, bad, row_group_size=1000)
    args = (
        "simulate", "-b", str(NEBULA / "retail-chat.yaml"),
        "-c", str(NEBULA / "retail-chat.candidate.yaml"), "-t", str(bad),
    )  # fmt: skip
    local = run(*args)
    distributed = run(*args, "--engine", "spark")
    assert local.exit_code == distributed.exit_code == 3
    # Both name the first row whose time is earlier than the row before it.
    assert "row 3002 (1-based) goes back in time" in local.stderr + distributed.stderr
    assert "row 3002 (1-based) goes back in time" in distributed.stderr


@pytest.mark.slow
def test_decisions_file_equals_numpy_row_for_row(
    spark: SparkSession, azure_traffic: Path, tmp_path: Path
) -> None:
    args = (
        "simulate", "-b", str(NEBULA / "code-assistant.yaml"),
        "-c", str(NEBULA / "code-assistant.candidate.yaml"), "-t", str(azure_traffic),
        "--gate", "changed_decisions_max_pct=off", "-f", "json",
    )  # fmt: skip
    local = run(*args, "--decisions", str(tmp_path / "numpy.parquet"))
    assert local.exit_code == 0, local.stderr
    # The shuffled join scatters rows over 3 partitions by millisecond; the file is then
    # assembled from range partitions pulled in order.
    distributed = run(
        *args, "--decisions", str(tmp_path / "spark.parquet"), "--engine", "spark",
        "--conf", "spark.sql.shuffle.partitions=3", "--conf", "spark.sql.adaptive.enabled=false",
        "--conf", "spark.sql.autoBroadcastJoinThreshold=-1",
    )  # fmt: skip
    assert distributed.exit_code == 0, distributed.stderr
    expected = pq.read_table(tmp_path / "numpy.parquet")
    got = pq.read_table(tmp_path / "spark.parquet")
    assert got.schema.equals(expected.schema, check_metadata=True)
    assert got.num_rows == expected.num_rows == pq.ParquetFile(azure_traffic).metadata.num_rows
    assert got.column("row").to_pylist() == list(range(got.num_rows))
    assert pq.ParquetFile(tmp_path / "spark.parquet").metadata.num_row_groups > 1
    for name in expected.column_names:  # one column at a time: a failure names it
        assert got.column(name).equals(expected.column(name)), name
    assert sorted(tmp_path.iterdir()) == [tmp_path / "numpy.parquet", tmp_path / "spark.parquet"]
    local_doc, spark_doc = json.loads(local.stdout), json.loads(distributed.stdout)
    assert_same_but_engine(local_doc, spark_doc)


def test_emit_evidence_from_spark_equals_numpy(spark: SparkSession, tmp_path: Path) -> None:
    from nexusctl.traffic.synth import write_synth
    from tests.cli.evidence_helpers import make_store

    traffic = tmp_path / "traffic.parquet"
    write_synth(traffic, 300, 5)
    stored = {}
    for engine in ("numpy", "spark"):
        (tmp_path / engine).mkdir()
        store, key, _ = make_store(tmp_path / engine, 4)
        result = run(
            "simulate", "-b", str(NEBULA / "retail-chat.yaml"),
            "-c", str(NEBULA / "retail-chat.candidate.yaml"), "-t", str(traffic),
            "--decisions", str(tmp_path / f"{engine}.parquet"), "--engine", engine,
            "--emit-evidence", str(store), str(key),
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert "appended 300 record(s)" in result.stderr
        query = (
            "SELECT request_id, deployment_id, outcome, cost_pusd FROM counterfactual_decisions "
            "ORDER BY request_id"
        )
        rows = run("evidence", "query", str(store), query, "-f", "json")
        assert rows.exit_code == 0, rows.stderr
        stored[engine] = json.loads(rows.stdout)
    assert len(stored["numpy"]) == 300
    assert stored["spark"] == stored["numpy"]


def test_spark_options_need_the_spark_engine(tmp_path: Path) -> None:
    result = run(
        "simulate", "-b", str(NEBULA / "retail-chat.yaml"),
        "-c", str(NEBULA / "retail-chat.candidate.yaml"), "-t", str(tmp_path / "t.parquet"),
        "--master", "local[2]",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--master and --conf need --engine spark" in result.stderr
