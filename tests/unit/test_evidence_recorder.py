"""The Recorder API: bounded batches, durable on flush, idempotent, invalid records refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.errors import InputError
from nexusctl.evidence.note import NoteSigner
from nexusctl.evidence.recorder import Recorder
from nexusctl.evidence.store import init_store
from nexusctl.evidence.verify import verify_store
from tests.cli.evidence_helpers import records


def _store(tmp_path: Path) -> tuple[Path, NoteSigner]:
    signer = NoteSigner.generate("gateway.example/evidence")
    init_store(tmp_path / "store", signer.name, signer.verifier)
    return tmp_path / "store", signer


def test_batches_seal_when_full_and_on_exit(tmp_path: Path) -> None:
    store, signer = _store(tmp_path)
    with Recorder(store, signer, batch_size=4) as recorder:
        for row in records(10, days=1):
            recorder.record(row)
        assert [r.added for r in recorder.results] == [4, 4]
    assert [r.added for r in recorder.results] == [4, 4, 2]
    report = verify_store(store, signer.verifier)
    assert report.ok
    assert report.tree_size["real"] == 10


def test_recording_the_same_decisions_again_is_a_no_op(tmp_path: Path) -> None:
    store, signer = _store(tmp_path)
    for _ in range(2):
        with Recorder(store, signer) as recorder:
            for row in records(3):
                recorder.record(row)
    assert [r.added for r in recorder.results] == [0]
    assert verify_store(store, signer.verifier).tree_size["real"] == 3


def test_invalid_record_is_refused_and_not_buffered(tmp_path: Path) -> None:
    store, signer = _store(tmp_path)
    recorder = Recorder(store, signer)
    bad = records(1)[0] | {"gen_ai.input.messages": "hello"}
    with pytest.raises(InputError, match="never stores prompt/completion text"):
        recorder.record(bad)
    recorder.flush()
    assert recorder.results == []
