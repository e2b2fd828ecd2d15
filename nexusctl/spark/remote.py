"""Traffic URLs read through Spark's own Hadoop FileSystem: the footer and the SHA-256.

``simulate --engine spark --traffic URL`` hands the URL to Spark untouched (``s3a://``,
``abfss://``, ``gs://``, ``hdfs://``, ``file://``: whatever the session's Hadoop
configuration knows). The driver still needs two things from the file itself, and reads both
through the same ``org.apache.hadoop.fs.FileSystem`` the executors use, so credentials and
filesystem settings are Spark's, set with ``--conf spark.hadoop.*``:

* the Parquet footer (schema, row count, key-value metadata, time statistics): a seekable
  Python stream (``HadoopFile``) over ``FileSystem.open``, each read one JVM call;
* the SHA-256 of the file's bytes (the result's and the attestation's traffic digest): a
  ``java.security.DigestInputStream`` drained in the JVM by one ``InputStream.transferTo``
  into ``OutputStream.nullOutputStream()`` (JDK 11+ only, no jar beyond Spark's own), so the
  bytes never cross into Python. It equals the local file's ``sha256sum``
  (tests/spark/test_spark_remote.py).

Hadoop's errors become nexusctl's: no such file is exit 3, as for a local path; a scheme with
no filesystem on the classpath (``s3a://`` without hadoop-aws) or a failed read is exit 4.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nexusctl.errors import EnvironmentError_, TrafficError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Bytes read from the JVM per call (py4j copies them; the footer needs a few such reads).
READ_CHUNK = 8 << 20
_NO_FILESYSTEM = (
    "org.apache.hadoop.fs.UnsupportedFileSystemException",
    "java.lang.ClassNotFoundException",
    "java.lang.RuntimeException",
)
_FILESYSTEM_HINT = (
    "add the scheme's Hadoop connector to Spark (e.g. for s3a:// the hadoop-aws jar of "
    "Spark's Hadoop version, via --conf spark.jars.packages=... or the cluster image; "
    "docs/scale.md)"
)


class HadoopFile(io.RawIOBase):
    """A read-only, seekable binary stream over a Hadoop ``FSDataInputStream``."""

    def __init__(self, stream: Any, size: int) -> None:
        super().__init__()
        self._stream = stream
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position, READ_CHUNK)
        if wanted <= 0:
            return 0
        self._stream.seek(self._position)
        data = bytes(self._stream.readNBytes(wanted))  # byte[] comes back as bytes
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def open_url(spark: SparkSession, url: str) -> HadoopFile:
    """Open the regular file at ``url`` through the session's Hadoop FileSystem.

    Raises:
        TrafficError: no such file, a directory, or an empty file.
        EnvironmentError_: no filesystem for the scheme, or the read failed.
    """
    with _hadoop_errors(url):
        filesystem, path = _resolve(spark, url)
        status = filesystem.getFileStatus(path)
        if status.isDirectory():
            raise TrafficError(f"{url}: is a directory, expected a traffic file")
        size = int(status.getLen())
        if size == 0:
            raise TrafficError(f"{url}: empty traffic file (0 bytes)")
        return HadoopFile(filesystem.open(path), size)


def sha256_url(spark: SparkSession, url: str) -> str:
    """The hex SHA-256 of the bytes at ``url``, computed in the JVM as the file streams by.

    Raises:
        TrafficError, EnvironmentError_: as ``open_url``.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    with _hadoop_errors(url):
        filesystem, path = _resolve(spark, url)
        digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
        stream = jvm.java.security.DigestInputStream(filesystem.open(path), digest)
        try:
            stream.transferTo(jvm.java.io.OutputStream.nullOutputStream())
        finally:
            stream.close()
        return bytes(digest.digest()).hex()


def _resolve(spark: SparkSession, url: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(url)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    return path.getFileSystem(conf), path


@contextlib.contextmanager
def _hadoop_errors(url: str) -> Iterator[None]:
    """Translate the JVM's exceptions about ``url`` into nexusctl's errors."""
    try:
        yield
    except Exception as exc:  # py4j's Py4JJavaError carries the JVM's exception
        java = getattr(exc, "java_exception", None)
        if java is None:
            raise
        name = str(java.getClass().getName())
        message = str(java.getMessage() or name).strip().splitlines()[0]
        if name == "java.io.FileNotFoundException":
            raise TrafficError(f"{url}: traffic file not found") from None
        if name in _NO_FILESYSTEM and ("FileSystem" in message or "scheme" in message):
            raise EnvironmentError_(
                f"{url}: Spark has no filesystem for this URL: {message}"[:500],
                hint=_FILESYSTEM_HINT,
            ) from None
        raise EnvironmentError_(
            f"{url}: cannot read through Spark's filesystem: {name}: {message}"[:500]
        ) from None
