"""Integrity under faults: kill -9 during ingest, leftovers of a crash, two ingesters at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.evidence_helpers import make_store, records, run, write_jsonl

NEXUSCTL = Path(sys.executable).parent / "nexusctl"


def _nexusctl(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(NEXUSCTL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _count(store: Path) -> int:
    result = run(
        "evidence", "query", str(store), "SELECT count(*) AS n FROM decisions", "-f", "csv"
    )
    assert result.exit_code == 0, result.stderr
    return int(result.stdout.split()[1])


@pytest.mark.slow
def test_kill_9_during_ingest_leaves_a_verifiable_store_and_ingest_resumes(
    tmp_path: Path,
) -> None:
    store, key, vkey = make_store(tmp_path, 3)
    src = write_jsonl(tmp_path / "big.jsonl", records(4_000, 1000, days=200))
    process = _nexusctl("evidence", "ingest", str(store), str(src), "--key", str(key))
    seals = store / "real" / "seals"
    deadline = time.monotonic() + 120
    while len(list(seals.glob("*.json"))) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "ingest finished before it could be killed"
    checked = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert checked.exit_code == 0, checked.stdout
    # Sealed records: the last signed checkpoint (queries may lag one seal behind it, see
    # test_crash_between_checkpoint_and_pointer_is_repaired).
    partial = json.loads(checked.stdout)["tree_size"]["real"]
    assert 3 < partial < 4_003
    assert _count(store) <= partial
    resumed = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert resumed.exit_code == 0, resumed.stderr
    assert f"{partial - 3} already present" in resumed.stdout
    final = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert final.exit_code == 0, final.stdout
    report = json.loads(final.stdout)
    assert report["tree_size"]["real"] == 4_003
    assert report["warnings"] == []
    assert _count(store) == 4_003


def test_leftovers_of_a_crash_are_invisible_then_removed(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    log = store / "real"
    # What a crash between renaming a segment and signing its checkpoint leaves behind.
    orphan = log / "segments" / "dt=2026-01-09" / "seg-000000000004.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes((next(iter(sorted((log / "segments").rglob("*.parquet"))))).read_bytes())
    seal = {
        "seq": 4,
        "path": str(orphan.relative_to(log)),
        "first_index": 30,
        "rows": 10,
        "sha256": "0" * 64,
        "dt": "2026-01-09",
        "sealed_at": "2026-01-09T00:00:00Z",
    }
    (log / "seals" / "000000000004.json").write_text(json.dumps(seal))
    (log / "log" / "tile" / "0" / "000.p" / "40").write_bytes(b"\0" * 40 * 32)
    checked = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert checked.exit_code == 0, checked.stdout
    warnings = json.loads(checked.stdout)["warnings"]
    assert any("beyond the last checkpoint" in w for w in warnings)
    assert _count(store) == 30
    src = write_jsonl(tmp_path / "more.jsonl", records(5, 500))
    assert run("evidence", "ingest", str(store), str(src), "--key", str(key)).exit_code == 0
    assert not orphan.exists()
    assert not (log / "log" / "tile" / "0" / "000.p" / "40").exists()
    final = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert final.exit_code == 0
    assert json.loads(final.stdout)["warnings"] == []


@pytest.mark.slow
def test_two_ingesters_at_once_are_serialised(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 3)
    first = write_jsonl(tmp_path / "a.jsonl", records(3000, 10_000, days=20))
    second = write_jsonl(tmp_path / "b.jsonl", records(3000, 20_000, days=20))
    processes = [
        _nexusctl("evidence", "ingest", str(store), str(src), "--key", str(key))
        for src in (first, second)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    final = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert final.exit_code == 0, final.stdout
    assert json.loads(final.stdout)["tree_size"]["real"] == 6003


def test_crash_between_checkpoint_and_pointer_is_repaired(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    log = store / "real"
    notes = sorted((log / "checkpoints").glob("*.txt"))
    (log / "log" / "checkpoint").write_bytes(notes[-2].read_bytes())
    checked = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert checked.exit_code == 0, checked.stdout
    assert any("one seal behind" in w for w in json.loads(checked.stdout)["warnings"])
    src = write_jsonl(tmp_path / "more.jsonl", records(3, 700))
    assert run("evidence", "ingest", str(store), str(src), "--key", str(key)).exit_code == 0
    final = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert final.exit_code == 0, final.stdout
    assert json.loads(final.stdout) | {"checkpoints": None} == json.loads(final.stdout) | {
        "checkpoints": None,
        "warnings": [],
        "tree_size": {"real": 33, "counterfactual": 0},
    }


def test_pointer_to_a_foreign_checkpoint_is_a_finding(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path, 30)
    pointer = store / "real" / "log" / "checkpoint"
    pointer.write_text(pointer.read_text().replace("\n30\n", "\n31\n"))
    checked = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert checked.exit_code == 5
    assert [f["reason"] for f in json.loads(checked.stdout)["findings"]] == [
        "checkpoint-latest-mismatch"
    ]
