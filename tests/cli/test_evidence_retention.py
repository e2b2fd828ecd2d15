"""Retention: `evidence retain` drops old segments under a signed tombstone that verify checks."""

from __future__ import annotations

import json
from pathlib import Path

from nexusctl.evidence.keys import load_signer
from nexusctl.evidence.note import NoteSigner
from nexusctl.evidence.retention import parse_tombstone
from tests.cli.evidence_helpers import make_store, run

# make_store's records fall on 2026-01-01, -02 and -03 (one segment each).
CUTOFF = "2026-01-03"


def _retain(store: Path, key: Path) -> Path:
    result = run("evidence", "retain", str(store), "--before", CUTOFF, "--key", str(key))
    assert result.exit_code == 0, result.stderr
    assert "real: dropped 2 segment(s), 20 record(s)" in result.stdout
    (tombstone,) = sorted((store / "real" / "tombstones").glob("*.txt"))
    return tombstone


def _verify(store: Path, vkey: Path) -> tuple[int, dict[str, object]]:
    result = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)


def _reasons(report: dict[str, object]) -> list[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return [f["reason"] for f in findings]


def test_retain_drops_old_segments_and_the_store_still_verifies(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    before = sorted(p.name for p in (store / "real" / "segments").rglob("*.parquet"))
    _retain(store, key)
    left = sorted(p.name for p in (store / "real" / "segments").rglob("*.parquet"))
    assert len(before) == 3
    assert left == before[2:]
    code, report = _verify(store, vkey)
    assert code == 0, report
    assert report["records"] == {"real": 10, "counterfactual": 0}
    assert report["dropped"] == {"real": 20, "counterfactual": 0}
    assert report["tree_size"] == {"real": 30, "counterfactual": 0}
    text = run("evidence", "verify", str(store), "--key", str(vkey))
    assert "20 dropped by retention" in text.stdout
    count = run("evidence", "query", str(store), "SELECT count(*) AS n FROM decisions", "-f", "csv")
    assert count.stdout.split() == ["n", "10"]
    # A second run has nothing left to drop, and writes no second tombstone.
    again = run("evidence", "retain", str(store), "--before", CUTOFF, "--key", str(key))
    assert again.exit_code == 0
    assert "dropped 0 segment(s)" in again.stdout
    assert len(list((store / "real" / "tombstones").glob("*.txt"))) == 1


def test_proofs_of_retained_records_verify_and_dropped_ones_are_refused(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    _retain(store, key)
    proof = tmp_path / "p.json"
    # req-2 is on 2026-01-03 (n % 3 == 2): retained.
    made = run("evidence", "prove", str(store), "--request-id", "req-2", "-o", str(proof))
    assert made.exit_code == 0, made.stderr
    checked = run("evidence", "verify-proof", str(proof), "--key", str(vkey))
    assert checked.exit_code == 0, checked.stderr
    gone = run("evidence", "prove", str(store), "--request-id", "req-0", "-o", str(proof))
    assert gone.exit_code == 3
    assert "dropped by retention" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_ingest_after_retention_appends_and_verifies(tmp_path: Path) -> None:
    from tests.cli.evidence_helpers import records, write_jsonl

    store, key, vkey = make_store(tmp_path, 30)
    _retain(store, key)
    src = write_jsonl(tmp_path / "more.jsonl", records(6, 100))
    added = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert added.exit_code == 0, added.stderr
    assert "appended 6" in added.stdout
    code, report = _verify(store, vkey)
    assert code == 0, report
    assert report["tree_size"] == {"real": 36, "counterfactual": 0}


def test_a_missing_segment_without_a_tombstone_is_named(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path, 30)
    victim = sorted((store / "real" / "segments").rglob("*.parquet"))[0]
    victim.unlink()
    code, report = _verify(store, vkey)
    assert code == 5
    assert _reasons(report)[0] == "segment-missing"
    assert victim.name in json.dumps(report["findings"][0])


def test_a_tombstone_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    tombstone = _retain(store, key)
    real = load_signer(key)
    verified = real.verifier
    text = parse_tombstone(_text_of(tombstone.read_text()), str(tombstone)).text()
    forger = NoteSigner.generate(verified.name)
    tombstone.write_text(forger.sign(text))
    code, report = _verify(store, vkey)
    assert code == 5
    assert "tombstone-signature" in _reasons(report)
    # Without a valid tombstone the dropped segments are missing, and named.
    assert "segment-missing" in _reasons(report)


def _text_of(note: str) -> str:
    return note.split("\n\n")[0] + "\n"


def test_a_tombstone_claiming_leaves_it_does_not_cover_is_refused(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    tombstone = _retain(store, key)
    signer = load_signer(key)
    lines = _text_of(tombstone.read_text()).split("\n")
    # Claim the first dropped segment held 11 leaves instead of 10 (a range it does not cover).
    index = next(i for i, line in enumerate(lines) if line.startswith("segment "))
    fields = lines[index].split(" ")
    fields[3] = str(int(fields[3]) + 1)
    lines[index] = " ".join(fields)
    tombstone.write_text(signer.sign("\n".join(lines)))
    code, report = _verify(store, vkey)
    assert code == 5
    assert "tombstone-mismatch" in _reasons(report)


def test_a_tombstone_with_a_wrong_subtree_hash_is_refused(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    tombstone = _retain(store, key)
    signer = load_signer(key)
    lines = _text_of(tombstone.read_text()).split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("subtree "))
    fields = lines[index].split(" ")
    fields[3] = "A" * 43 + "="
    lines[index] = " ".join(fields)
    tombstone.write_text(signer.sign("\n".join(lines)))
    code, report = _verify(store, vkey)
    assert code == 5
    assert "tombstone-mismatch" in _reasons(report)


def test_a_malformed_tombstone_is_a_clear_finding(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path, 30)
    tombstone = _retain(store, key)
    signer = load_signer(key)
    tombstone.write_text(signer.sign("nexusctl-evidence-tombstone/v1\nnot a tombstone\n"))
    code, report = _verify(store, vkey)
    assert code == 5
    assert "tombstone-malformed" in _reasons(report)
    tombstone.write_text("garbage without a signature\n")
    code, report = _verify(store, vkey)
    assert code == 5
    assert "tombstone-malformed" in _reasons(report)


def test_retain_refuses_another_signer_key(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 30)
    other = tmp_path / "other.key"
    assert run("evidence", "keygen", "nebula.example/evidence", "-o", str(other)).exit_code == 0
    result = run("evidence", "retain", str(store), "--before", CUTOFF, "--key", str(other))
    assert result.exit_code == 3
    assert "not the key this store was created with" in result.stderr
    assert not (store / "real" / "tombstones").exists()
