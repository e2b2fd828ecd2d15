"""The Spark engine refuses to start in one line when pyspark or Java is missing or too old."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.errors import EnvironmentError_, UsageError
from nexusctl.spark.session import SparkSettings, java_major, require_java, require_pyspark
from nexusctl.traffic.synth import write_synth
from tests.conftest import POLICIES


def fake_java(tmp_path: Path, version_line: str) -> Path:
    """A JAVA_HOME whose bin/java prints ``version_line`` as ``java -version`` does."""
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return home


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("no version here", None),
    ],
)
def test_java_major(text: str, major: int | None) -> None:
    assert java_major(text) == major


def test_old_java_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path, 'openjdk version "11.0.2"')))
    with pytest.raises(EnvironmentError_, match="needs Java 17 or later, found Java 11"):
        require_java()


def test_missing_java_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(EnvironmentError_, match="needs Java, and none was found"):
        require_java()


def test_this_machines_java_is_accepted() -> None:
    require_java()


def test_missing_pyspark_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    traffic = tmp_path / "t.parquet"
    write_synth(traffic, 100, 1)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(EnvironmentError_) as caught:
        require_pyspark()
    assert caught.value.hint == "pip install 'nexusctl-routing[spark]'"
    result = CliRunner().invoke(
        app,
        [
            "simulate", "-b", str(POLICIES / "retail-chat.yaml"),
            "-c", str(POLICIES / "retail-chat.candidate.yaml"),
            "-t", str(traffic), "--engine", "spark",
        ],
    )  # fmt: skip
    assert result.exit_code == 4
    assert "needs pyspark, which is not installed" in result.stderr
    assert "pip install 'nexusctl-routing[spark]'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("pair", ["novalue", "=x", ""])
def test_conf_must_be_key_value(pair: str) -> None:
    with pytest.raises(UsageError, match="is not KEY=VALUE"):
        SparkSettings.parse(None, [pair])


def test_conf_parsed() -> None:
    settings = SparkSettings.parse("local[2]", ["spark.a=1", "spark.b=x=y"])
    assert settings == SparkSettings("local[2]", (("spark.a", "1"), ("spark.b", "x=y")))
