"""Tampering with a store or a proof: each attack is caught with exit 5 and its reason code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from nexusctl.evidence.note import NoteSigner
from tests.cli.evidence_helpers import make_store, records, rewrite, run, segments, write_jsonl


def _verify(store: Path, vkey: Path) -> tuple[int, dict[str, Any]]:
    result = run("evidence", "verify", str(store), "--key", str(vkey), "-f", "json")
    return result.exit_code, json.loads(result.stdout)


def _reasons(report: dict[str, Any]) -> list[str]:
    return [f["reason"] for f in report["findings"]]


def test_edited_record_is_named(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    target = segments(store)[1]

    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[4]["nexus.cost.pusd"] = 1
        return rows

    rewrite(target, edit)
    code, report = _verify(store, vkey)
    assert code == 5
    assert _reasons(report) == ["record-modified"]
    finding = report["findings"][0]
    assert finding["segment"] == str(target.relative_to(store / "real"))
    assert finding["row"] == 4
    assert finding["request_id"] == "req-13"


def test_deleted_record_is_named(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    rewrite(segments(store)[0], lambda rows: rows[:2] + rows[3:])
    code, report = _verify(store, vkey)
    assert code == 5
    assert _reasons(report) == ["record-deleted"]
    assert report["findings"][0]["row"] == 2


def test_inserted_record_is_named(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    forged = records(1, 999)[0]
    forged["nexus.request.time_unix_us"] = records(1, 0)[0]["nexus.request.time_unix_us"]
    rewrite(segments(store)[0], lambda rows: [*rows[:5], forged, *rows[5:]])
    code, report = _verify(store, vkey)
    assert code == 5
    assert _reasons(report) == ["record-inserted"]
    assert report["findings"][0]["request_id"] == "req-999"
    assert report["findings"][0]["row"] == 5


def test_reordered_records_are_named(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    rewrite(segments(store)[2], lambda rows: [rows[1], rows[0], *rows[2:]])
    code, report = _verify(store, vkey)
    assert code == 5
    assert _reasons(report) == ["record-reordered"]
    assert report["findings"][0]["request_id"] == "req-2"


def test_deleted_segment_is_caught(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    segments(store)[1].unlink()
    code, report = _verify(store, vkey)
    assert code == 5
    assert "segment-missing" in _reasons(report)
    assert _reasons(report).count("record-deleted") == 10


def test_checkpoint_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    other = NoteSigner.generate("nebula.example/evidence")
    for note in [*(store / "real" / "checkpoints").glob("*.txt"), store / "real/log/checkpoint"]:
        text = note.read_text().split("\n\n")[0] + "\n"
        note.write_text(other.sign(text))
    code, report = _verify(store, vkey)
    assert code == 5
    assert set(_reasons(report)) == {"note-unknown-key"}


def test_truncated_tile_is_caught(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    tile = store / "real" / "log" / "tile" / "0" / "000.p" / "30"
    tile.write_bytes(tile.read_bytes()[:-7])
    code, report = _verify(store, vkey)
    assert code == 5
    assert _reasons(report) == ["tile-truncated"]


def test_store_rewritten_with_its_own_key_is_caught_by_a_kept_checkpoint(tmp_path: Path) -> None:
    store, key, vkey = make_store(tmp_path)
    kept = tmp_path / "kept-checkpoint"
    shutil.copy(store / "real" / "log" / "checkpoint", kept)
    # Someone holding the key rebuilds the whole store with one record changed.
    shutil.rmtree(store)
    assert run("evidence", "init", str(store), "--key", str(vkey)).exit_code == 0
    rows = records(30)
    rows[3]["nexus.cost.pusd"] = 1
    src = write_jsonl(tmp_path / "forged.jsonl", rows)
    assert run("evidence", "ingest", str(store), str(src), "--key", str(key)).exit_code == 0
    assert _verify(store, vkey)[0] == 0
    result = run(
        "evidence", "verify", str(store), "--key", str(vkey), "--from", str(kept), "-f", "json"
    )
    assert result.exit_code == 5
    assert _reasons(json.loads(result.stdout)) == ["checkpoint-inconsistent"]


def test_verify_without_key_warns_that_it_trusts_the_store(tmp_path: Path) -> None:
    store, _, _ = make_store(tmp_path, 3)
    result = run("evidence", "verify", str(store))
    assert result.exit_code == 0
    assert "trusting the key recorded in the store" in result.stderr


def _proof(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    store, key, vkey = make_store(tmp_path)
    proof = tmp_path / "proof.json"
    assert (
        run("evidence", "prove", str(store), "--request-id", "req-5", "-o", str(proof)).exit_code
        == 0
    )
    return store, key, vkey, proof


def test_proof_with_edited_record_fails(tmp_path: Path) -> None:
    _, _, vkey, proof = _proof(tmp_path)
    document = json.loads(proof.read_text())
    document["record"]["nexus.cost.pusd"] = 1
    proof.write_text(json.dumps(document))
    result = run("evidence", "verify-proof", str(proof), "--key", str(vkey))
    assert result.exit_code == 5
    assert "does not lead to the root hash" in result.stderr


def test_proof_for_another_tree_fails(tmp_path: Path) -> None:
    store, key, vkey, proof = _proof(tmp_path)
    src = write_jsonl(tmp_path / "more.jsonl", records(9, 100))
    assert run("evidence", "ingest", str(store), str(src), "--key", str(key)).exit_code == 0
    document = json.loads(proof.read_text())
    document["checkpoint"] = (store / "real" / "log" / "checkpoint").read_text()
    proof.write_text(json.dumps(document))
    result = run("evidence", "verify-proof", str(proof), "--key", str(vkey))
    assert result.exit_code == 5
    assert "proof is for a tree of 30 leaves, the checkpoint has 39" in result.stderr
    document["tree_size"] = 39
    proof.write_text(json.dumps(document))
    result = run("evidence", "verify-proof", str(proof), "--key", str(vkey))
    assert result.exit_code == 5
    assert "inclusion proof" in result.stderr


def test_proof_checked_with_another_key_fails(tmp_path: Path) -> None:
    _, _, _, proof = _proof(tmp_path)
    other = tmp_path / "other.key"
    assert run("evidence", "keygen", "nebula.example/evidence", "-o", str(other)).exit_code == 0
    result = run("evidence", "verify-proof", str(proof), "--key", f"{other}.vkey")
    assert result.exit_code == 5
    assert "no signature by a trusted key" in result.stderr


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"format": "other"}', "[" * 100_000, '{"a": ' * 60_000]
)
def test_garbage_proof_is_exit_3(tmp_path: Path, content: str) -> None:
    _, _, vkey, proof = _proof(tmp_path)
    proof.write_text(content)
    result = run("evidence", "verify-proof", str(proof), "--key", str(vkey))
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr


def test_verify_log_reads_a_bare_tiles_log(tmp_path: Path) -> None:
    store, _, vkey = make_store(tmp_path)
    log = tmp_path / "copy"
    shutil.copytree(store / "real" / "log", log)
    result = run("evidence", "verify-log", str(log), "--key", str(vkey))
    assert result.exit_code == 0, result.stderr
    assert "OK: nebula.example/evidence at size 30" in result.stdout
    tile = log / "tile" / "0" / "000.p" / "30"
    data = bytearray(tile.read_bytes())
    data[0] ^= 1
    tile.write_bytes(bytes(data))
    broken = run("evidence", "verify-log", str(log), "--key", str(vkey))
    assert broken.exit_code == 5
    assert "do not hash to its signed root" in broken.stderr


@pytest.mark.parametrize("which", ["config", "seal"])
def test_a_store_file_nested_past_any_parser_is_exit_3(tmp_path: Path, which: str) -> None:
    store, _, vkey = make_store(tmp_path)
    target = (
        store / "evidence.json"
        if which == "config"
        else sorted((store / "real" / "seals").glob("*.json"))[0]
    )
    target.write_text("[" * 100_000)
    result = run("evidence", "verify", str(store), "--key", str(vkey))
    assert result.exit_code == 3, result.stderr
    assert "malformed" in result.stderr
    assert "Traceback" not in result.stderr
