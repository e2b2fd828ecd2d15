"""One local SparkSession for every Spark test: start-up costs seconds, so it is shared.

``local[2]`` (CI's two cores), bound to 127.0.0.1 with no UI: nothing listens beyond the
loopback and nothing leaves the machine. Every test here carries the ``spark`` marker
(``pytest -m "not spark"`` skips them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Settings of the shared session (docs/scale.md explains each).
TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "65536",
    "spark.sql.runSQLOnFiles": "false",
    "spark.driver.memory": "1g",
    "spark.python.worker.reuse": "true",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The shared ``local[2]`` session (the CLI under test reuses it as the active one)."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    # Workers run on this interpreter (the test venv), not on whatever python3 PATH finds.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("nexusctl-tests")
    for key, value in TEST_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


#: SQL settings a test may change through ``--conf``; restored after every test.
RESTORED = (
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.enabled",
)


@pytest.fixture(autouse=True)
def _restore_sql_conf(request: pytest.FixtureRequest) -> Iterator[None]:
    """Undo the spark.sql.* settings a test's ``--conf`` left on the shared session."""
    if "spark" not in request.fixturenames:
        yield
        return
    session = request.getfixturevalue("spark")
    before = {key: session.conf.get(key, None) for key in RESTORED}
    yield
    for key, value in before.items():
        if value is None:
            session.conf.unset(key)
        else:
            session.conf.set(key, value)
