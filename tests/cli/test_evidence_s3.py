"""The evidence store on S3-compatible object storage, against a moto server on 127.0.0.1.

Every command runs over ``s3://bucket/prefix`` through pyarrow's S3 file system, configured
only by the standard AWS variables; the bucket is tampered with through boto3, as someone with
write access to it would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from nexusctl.errors import ConflictError
from nexusctl.evidence.objectstore import S3Blobs, S3Options
from tests.cli.evidence_helpers import records, run, write_jsonl

pytestmark = pytest.mark.slow

BUCKET = "audit"
SECRET = "moto-secret-do-not-print"
URL = f"s3://{BUCKET}/nebula/evidence"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _checked(*args: str) -> str:
    result = run(*args)
    output = result.stdout + result.stderr
    assert SECRET not in output
    assert "Traceback" not in output
    assert result.exit_code == 0, output
    return result.stdout


def _store(tmp: Path, count: int = 30) -> tuple[Path, Path]:
    key = tmp / "log.key"
    _checked("evidence", "keygen", "nebula.example/evidence", "-o", str(key))
    _checked("evidence", "init", URL, "--key", f"{key}.vkey")
    src = write_jsonl(tmp / "in.jsonl", records(count))
    _checked("evidence", "ingest", URL, str(src), "--key", str(key))
    return key, Path(f"{key}.vkey")


def _keys(client: Any, part: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="nebula/evidence/")
    # pyarrow leaves empty "directory" marker objects (keys ending in /) behind deletes.
    keys = (o["Key"] for o in listed.get("Contents", []))
    return sorted(k for k in keys if part in k and not k.endswith("/"))


def _verify(vkey: Path) -> tuple[int, dict[str, object]]:
    result = run("evidence", "verify", URL, "--key", str(vkey), "-f", "json")
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_every_command_works_on_s3(tmp_path: Path, s3: Any) -> None:
    key, vkey = _store(tmp_path)
    assert len(_keys(s3, "/segments/dt=")) == 3
    assert _keys(s3, "/log/checkpoint") == ["nebula/evidence/real/log/checkpoint"]
    code, report = _verify(vkey)
    assert code == 0, report
    assert report["records"] == {"real": 30, "counterfactual": 0}
    # Idempotent on S3 as locally: the same records again are a no-op.
    again = _checked("evidence", "ingest", URL, str(tmp_path / "in.jsonl"), "--key", str(key))
    assert "appended 0 record(s), 30 already present" in again
    proof = tmp_path / "p.json"
    _checked("evidence", "prove", URL, "--request-id", "req-7", "-o", str(proof))
    assert "leaf" in _checked("evidence", "verify-proof", str(proof), "--key", str(vkey))
    sql = "SELECT tenant, count(*) AS n FROM decisions GROUP BY 1 ORDER BY 1"
    out = _checked("evidence", "query", URL, sql, "-f", "csv")
    assert out.split() == ["tenant,n", "retail,10", "treasury,10", "wealth,10"]
    report_md = _checked("evidence", "report", URL, "--tenant", "retail")
    assert "retail" in report_md
    retained = _checked("evidence", "retain", URL, "--before", "2026-01-03", "--key", str(key))
    assert "dropped 2 segment(s), 20 record(s)" in retained
    assert len(_keys(s3, "/segments/dt=")) == 1
    assert len(_keys(s3, "/tombstones/")) == 1
    code, report = _verify(vkey)
    assert code == 0, report
    assert report["dropped"] == {"real": 20, "counterfactual": 0}


def test_an_edited_record_on_s3_is_named(tmp_path: Path, s3: Any) -> None:
    import io

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    _, vkey = _store(tmp_path)
    victim = _keys(s3, "/segments/dt=")[0]
    body = s3.get_object(Bucket=BUCKET, Key=victim)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    column = table.column("nexus.cost.pusd")
    edited = table.set_column(
        table.schema.get_field_index("nexus.cost.pusd"),
        "nexus.cost.pusd",
        pc.if_else(pc.equal(table.column("nexus.request.id"), "req-3"), 1, column),
    )
    sink = io.BytesIO()
    pq.write_table(edited, sink, compression="zstd")
    s3.put_object(Bucket=BUCKET, Key=victim, Body=sink.getvalue())
    code, report = _verify(vkey)
    assert code == 5
    (finding,) = report["findings"]
    assert finding["reason"] == "record-modified"
    assert finding["request_id"] == "req-3"


def test_a_missing_segment_object_is_named(tmp_path: Path, s3: Any) -> None:
    _, vkey = _store(tmp_path)
    victim = _keys(s3, "/segments/dt=")[1]
    s3.delete_object(Bucket=BUCKET, Key=victim)
    code, report = _verify(vkey)
    assert code == 5
    first = report["findings"][0]
    assert first["reason"] == "segment-missing"
    assert victim.rsplit("/", 1)[-1] in first["message"]


def test_a_truncated_or_missing_tile_object_is_named(tmp_path: Path, s3: Any) -> None:
    _, vkey = _store(tmp_path)
    tile = _keys(s3, "/log/tile/0/000.p/30")[0]  # the tile of the current tree
    body = s3.get_object(Bucket=BUCKET, Key=tile)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=tile, Body=body[:-5])
    code, report = _verify(vkey)
    assert code == 5
    assert report["findings"][0]["reason"] == "tile-truncated"
    s3.delete_object(Bucket=BUCKET, Key=tile)
    code, report = _verify(vkey)
    assert code == 5
    assert report["findings"][0]["reason"] == "tile-missing"


def test_a_store_that_is_not_there_is_bad_input(tmp_path: Path, s3: Any) -> None:
    result = run("evidence", "verify", f"s3://{BUCKET}/nowhere")
    assert result.exit_code == 3
    assert "not an evidence store" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run("evidence", "verify", "s3://no-such-bucket/x")
    assert missing.exit_code in (3, 4)
    assert "Traceback" not in missing.stderr
    assert SECRET not in missing.stdout + missing.stderr
    bad = run("evidence", "verify", "s3://")
    assert bad.exit_code == 2
    assert "s3://BUCKET" in bad.stderr


def test_init_refuses_a_prefix_that_holds_objects(tmp_path: Path, s3: Any) -> None:
    key = tmp_path / "log.key"
    _checked("evidence", "keygen", "nebula.example/evidence", "-o", str(key))
    s3.put_object(Bucket=BUCKET, Key="nebula/evidence/other", Body=b"x")
    result = run("evidence", "init", URL, "--key", f"{key}.vkey")
    assert result.exit_code == 3
    assert "not empty" in result.stderr


def test_the_lock_object_serialises_writers(endpoint: str, s3: Any) -> None:
    options = S3Options(endpoint, "us-east-1", "testing", SECRET)
    first = S3Blobs(BUCKET, "locked", options)
    second = S3Blobs(BUCKET, "locked", options)
    with first.lock(1.0):
        assert first.exists(".lock")
        with pytest.raises(ConflictError, match="holds the writer lock"), second.lock(0.3):
            pass
    assert not first.exists(".lock")
    with second.lock(0.3):
        pass
    assert SECRET not in repr(options)


def test_the_conditional_put_creates_once(endpoint: str, s3: Any) -> None:
    from nexusctl.evidence.s3put import put_if_absent, signed_put

    def attempt(body: bytes) -> bool:
        request = signed_put(
            endpoint, "us-east-1", ("testing", SECRET, None), BUCKET, "p/once", body
        )
        return put_if_absent(request, "once")

    assert attempt(b"first") is True
    assert attempt(b"second") is False
    assert s3.get_object(Bucket=BUCKET, Key="p/once")["Body"].read() == b"first"


def test_two_racing_writers_exactly_one_holds_the_lock(endpoint: str, s3: Any) -> None:
    # Both start together; the winner holds the lock until the loser has given up (so the
    # outcome does not depend on which thread runs first or how loaded the machine is).
    import threading

    options = S3Options(endpoint, "us-east-1", "testing", SECRET)
    start = threading.Barrier(2)
    gave_up = threading.Event()
    outcomes: list[str] = []

    def writer() -> None:
        blobs = S3Blobs(BUCKET, "race", options)
        start.wait()
        try:
            with blobs.lock(1.0):
                outcomes.append("held")
                gave_up.wait(30)
        except ConflictError:
            outcomes.append("refused")
            gave_up.set()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["held", "refused"]
    assert not S3Blobs(BUCKET, "race", options).exists(".lock")
