"""Start a SparkSession for nexusctl, or say in one line why it cannot start.

pyspark is an optional extra (``pip install 'nexusctl-routing[spark]'``) and is imported only
here and in this package's other modules, always inside a function, so ``nexusctl --help``
and the NumPy engine never pay for it. The checks run in this order, each with its own
message: pyspark importable, a Java runtime of version ``JAVA_MIN`` or later (what Spark 4
runs on), then the session itself.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nexusctl.errors import EnvironmentError_, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The command that installs the extra (the distribution is nexusctl-routing).
INSTALL_HINT = "pip install 'nexusctl-routing[spark]'"
#: Spark 4 runs on Java 17 or 21 (the Spark 4.0 release notes drop Java 8 and 11).
JAVA_MIN = 17
#: pyspark releases this package is written against (mapInArrow, _metadata.row_index).
PYSPARK_MIN = (4, 0)
#: Session settings nexusctl needs; ``--conf`` may override any of them.
DEFAULT_CONF: tuple[tuple[str, str], ...] = (
    # Times are UTC everywhere in nexusctl (docs/traffic.md, docs/evidence.md).
    ("spark.sql.session.timeZone", "UTC"),
    # The CLI draws its own progress bar from the status tracker.
    ("spark.ui.showConsoleProgress", "false"),
    # The replay's own batch size: one Arrow batch per 65,536 rows.
    ("spark.sql.execution.arrow.maxRecordsPerBatch", "65536"),
    # A query names the store's views, never a file path (evidence query is read-only).
    ("spark.sql.runSQLOnFiles", "false"),
)
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class SparkSettings:
    """Where and how to run: the master URL (None: ``local[*]``) and ``--conf`` pairs."""

    master: str | None = None
    conf: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, master: str | None, pairs: list[str] | None) -> SparkSettings:
        """Build settings from ``--master`` and ``--conf KEY=VALUE`` options.

        Raises:
            UsageError: a ``--conf`` without ``=`` or with an empty key.
        """
        conf = []
        for pair in pairs or []:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise UsageError(
                    f"--conf {pair!r} is not KEY=VALUE", hint="e.g. --conf spark.executor.memory=4g"
                )
            conf.append((key.strip(), value))
        return cls(master=master, conf=tuple(conf))


def require_pyspark() -> None:
    """Import pyspark, or refuse in one line naming the extra that installs it.

    Raises:
        EnvironmentError_: pyspark is missing or older than ``PYSPARK_MIN``.
    """
    try:
        import pyspark
    except ImportError:
        raise EnvironmentError_(
            "the Spark engine needs pyspark, which is not installed", hint=INSTALL_HINT
        ) from None
    found = tuple(int(p) for p in re.findall(r"\d+", pyspark.__version__)[:2])
    if found < PYSPARK_MIN:
        wanted = ".".join(map(str, PYSPARK_MIN))
        raise EnvironmentError_(
            f"the Spark engine needs pyspark {wanted} or later, found {pyspark.__version__}",
            hint=INSTALL_HINT,
        )


def java_major(version_text: str) -> int | None:
    """The major version in ``java -version`` output (``1.8`` is 8), or None."""
    found = _JAVA_VERSION.search(version_text)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def require_java() -> None:
    """Check the Java runtime Spark will start: ``$JAVA_HOME/bin/java``, else ``java``.

    The shell picks the binary the way Spark's launcher does, so the check and the launch
    agree on which Java runs.

    Raises:
        EnvironmentError_: no Java, or one older than ``JAVA_MIN``.
    """
    hint = (
        f"install a Java {JAVA_MIN}+ runtime (e.g. OpenJDK 17) and put it on PATH or in JAVA_HOME"
    )
    script = 'exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" -version'
    try:
        done = subprocess.run(
            ["sh", "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentError_(f"cannot run java for Spark: {exc}", hint=hint) from None
    major = java_major(done.stderr + done.stdout)
    if done.returncode != 0 or major is None:
        raise EnvironmentError_("the Spark engine needs Java, and none was found", hint=hint)
    if major < JAVA_MIN:
        raise EnvironmentError_(
            f"the Spark engine needs Java {JAVA_MIN} or later, found Java {major}", hint=hint
        )


def start_session(settings: SparkSettings, app_name: str = "nexusctl") -> SparkSession:
    """Return a SparkSession (the active one when it exists) with nexusctl's settings.

    Raises:
        EnvironmentError_: pyspark or Java is missing, or the session does not start.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    _quiet_query_loggers()
    active = SparkSession.getActiveSession()
    if active is not None:
        _runtime_conf(active, settings)
        return active
    require_java()
    try:
        session = _build(settings, app_name)
    except Exception as exc:  # py4j and pyspark raise many types here; all mean "cannot run"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvironmentError_(
            f"Spark did not start: {first}", hint="check --master and --conf"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _quiet_query_loggers() -> None:
    """Stop pyspark logging each failed query as a JSON record with the JVM's stack on stderr.

    nexusctl reports the failure itself in one line (``errors.translated``; ``--debug`` has
    the rest). The loggers are pyspark's own class, made through its factory, so pyspark's
    keyword arguments to them still work; they are only disabled.
    """
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def _build(settings: SparkSettings, app_name: str) -> SparkSession:
    """Start the gateway, resolve the master, create the session."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    # Under spark-submit the JVM is already up and holds --master; start (or join) it first
    # so that a master set there, or in spark-defaults.conf, wins over the local default.
    SparkContext._ensure_initialized()
    master = settings.master or SparkConf().get("spark.master", "local[*]") or "local[*]"
    builder = SparkSession.builder.appName(app_name).master(master)
    for key, value in (*DEFAULT_CONF, *settings.conf):
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _local_workers_use_this_python(session, master)
    return session


def _local_workers_use_this_python(session: SparkSession, master: str) -> None:
    """In local mode, run the Python workers on this interpreter (it has nexusctl).

    pyspark's default worker is ``python3`` from PATH (unless PYSPARK_PYTHON names one),
    which need not be the environment nexusctl is installed in. On a cluster the executors'
    Python is the cluster's to choose (docs/scale.md), so only local masters are changed.
    """
    import sys

    context = session.sparkContext
    local = master.startswith("local")
    if local and context.pythonExec == "python3":
        context.pythonExec = sys.executable


def _runtime_conf(session: SparkSession, settings: SparkSettings) -> None:
    """Apply the SQL settings to a session that was already running (a notebook, a test)."""
    for key, value in (*DEFAULT_CONF, *settings.conf):
        if key.startswith("spark.sql."):
            session.conf.set(key, value)
