"""``simulate --engine spark --traffic URL``: the URL goes to Spark's own Hadoop FileSystem.

``file://`` URLs go through Hadoop's LocalFileSystem, the same code path as ``s3a://`` or
``abfss://`` up to the connector, so the footer, the digest and the replay are exercised for
real; the object stores themselves need their connectors and a network (docs/scale.md).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from nexusctl.errors import EnvironmentError_, TrafficError
from nexusctl.spark.remote import open_url, sha256_url
from nexusctl.traffic.synth import write_synth
from tests.conftest import POLICIES

POLICY_ARGS = (
    "-b", str(POLICIES / "retail-chat.yaml"), "-c", str(POLICIES / "retail-chat.candidate.yaml"),
)  # fmt: skip


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="nexusctl")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("remote") / "synth.parquet"
    write_synth(path, 6_000, 11)
    return path


def test_file_url_gives_the_plain_paths_result_and_digest(
    spark: SparkSession, traffic: Path
) -> None:
    local = run("simulate", *POLICY_ARGS, "-t", str(traffic), "-f", "json")
    assert local.exit_code == 0, local.stderr
    url = traffic.as_uri()
    assert url.startswith("file:///")
    remote = run("simulate", *POLICY_ARGS, "-t", url, "-f", "json", "--engine", "spark")
    assert remote.exit_code == 0, remote.stderr
    expected, got = json.loads(local.stdout), json.loads(remote.stdout)
    assert got["traffic"]["sha256"] == hashlib.sha256(traffic.read_bytes()).hexdigest()
    assert got["traffic"].pop("path") == url
    assert expected["traffic"].pop("path") == str(traffic)
    assert (got.pop("engine"), expected.pop("engine")) == ("spark", "numpy")
    assert got == expected


def test_hadoop_stream_reads_the_files_bytes(spark: SparkSession, traffic: Path) -> None:
    data = traffic.read_bytes()
    picks = random.Random(5)
    with open_url(spark, traffic.as_uri()) as stream:
        assert stream.seek(0, 2) == len(data)
        for _ in range(20):
            start = picks.randrange(len(data))
            size = picks.randrange(1, 5000)
            stream.seek(start)
            assert stream.read(size) == data[start : start + size]
        stream.seek(0, 2)
        assert stream.read(10) == b""
        stream.seek(-8, 2)
        assert stream.read() == data[-8:]  # the Parquet footer length and magic
    assert sha256_url(spark, traffic.as_uri()) == hashlib.sha256(data).hexdigest()


def test_missing_url_is_not_found(spark: SparkSession, tmp_path: Path) -> None:
    url = (tmp_path / "absent.parquet").as_uri()
    result = run("simulate", *POLICY_ARGS, "-t", url, "--engine", "spark")
    assert result.exit_code == 3, result.stderr
    assert f"{url}: traffic file not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["directory", "empty"])
def test_directory_or_empty_url_is_refused(spark: SparkSession, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x.parquet"
    if kind == "directory":
        target.mkdir()
    else:
        target.write_bytes(b"")
    with pytest.raises(TrafficError, match="is a directory" if kind == "directory" else "empty"):
        open_url(spark, target.as_uri())


def test_scheme_without_a_connector_names_hadoop_aws(spark: SparkSession) -> None:
    # No hadoop-aws jar ships with pyspark: the scheme has no FileSystem (nothing is dialled).
    url = "s3a://nexusctl-no-such-bucket/traffic.parquet"
    with pytest.raises(EnvironmentError_) as caught:
        open_url(spark, url)
    assert "no filesystem for this URL" in str(caught.value)
    assert caught.value.hint is not None
    assert "hadoop-aws" in caught.value.hint
    result = run("simulate", *POLICY_ARGS, "-t", url, "--engine", "spark")
    assert result.exit_code == 4, result.stderr
    assert "Traceback" not in result.stderr


def test_numpy_engine_refuses_a_url(traffic: Path) -> None:
    result = run("simulate", *POLICY_ARGS, "-t", traffic.as_uri())
    assert result.exit_code == 2, result.stderr
    assert "the numpy engine reads local traffic files only" in result.stderr
    assert "--engine spark" in result.stderr
