"""C2SP signed notes and checkpoints against the spec's example and Tessera's test log keys."""

from __future__ import annotations

import base64
import json

import pytest

from nexusctl.errors import InputError, VerificationError
from nexusctl.evidence.merkle import leaf_hash, root_hash
from nexusctl.evidence.note import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    open_note,
    parse_checkpoint,
)
from nexusctl.evidence.tiles import MemoryTiles
from tests.conftest import SHARED_DATA

EXAMPLES = json.loads((SHARED_DATA / "vectors" / "c2sp" / "signed-note-examples.json").read_text())
NOTE = EXAMPLES["signed_note_example"]
TESSERA = EXAMPLES["tessera_testlog_keys"]
#: The 15 entries of Tessera's testdata log; checkpoint.15 commits to this root.
TESSERA_ENTRIES = [
    *("one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten"),
    *("ileven", "twelf", "threeten", "fourten", "fivten"),
]
TESSERA_ROOT_15 = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="


def test_spec_example_note_verifies() -> None:
    verifier = NoteVerifier.parse(NOTE["vkey"])
    assert verifier.text() == NOTE["vkey"]
    assert open_note(NOTE["note"], [verifier]) == "This is an example message.\n"


def test_tessera_signer_key_matches_its_verifier_key() -> None:
    signer = NoteSigner.parse(TESSERA["skey_TEST_ONLY"])
    assert signer.verifier.text() == TESSERA["vkey"]
    assert signer.text() == TESSERA["skey_TEST_ONLY"]


def test_tessera_checkpoint_15_roundtrip() -> None:
    tree = MemoryTiles()
    tree.append(b"".join(leaf_hash(e.encode()) for e in TESSERA_ENTRIES))
    root = root_hash(tree, 15)
    assert base64.b64encode(root).decode() == TESSERA_ROOT_15
    signer = NoteSigner.parse(TESSERA["skey_TEST_ONLY"])
    note = signer.sign(Checkpoint("example.com/log/testdata", 15, root).text())
    text = open_note(note, [NoteVerifier.parse(TESSERA["vkey"])])
    assert parse_checkpoint(text) == Checkpoint("example.com/log/testdata", 15, root)
    assert note.startswith(f"example.com/log/testdata\n15\n{TESSERA_ROOT_15}\n\n— ")


def test_vkey_with_plus_in_base64_parses() -> None:
    assert "+" in TESSERA["vkey"].split("+", 2)[2]
    assert NoteVerifier.parse(TESSERA["vkey"]).name == "example.com/log/testdata"


def test_tampered_text_fails_with_reason() -> None:
    verifier = NoteVerifier.parse(NOTE["vkey"])
    forged = NOTE["note"].replace("example message", "exemplary message")
    with pytest.raises(VerificationError) as caught:
        open_note(forged, [verifier])
    assert caught.value.reason == "note-signature-invalid"


def test_note_signed_by_another_key_is_refused() -> None:
    other = NoteSigner.generate("example.com/foo")
    note = other.sign("This is an example message.\n")
    with pytest.raises(VerificationError) as caught:
        open_note(note, [NoteVerifier.parse(NOTE["vkey"])])
    assert caught.value.reason == "note-unknown-key"


def test_unknown_signatures_are_ignored_when_a_known_one_verifies() -> None:
    known = NoteSigner.generate("log.example/a")
    stranger = NoteSigner.generate("witness.example/b")
    note = known.sign("hello\n")
    extra = stranger.sign("hello\n").split("\n\n", 1)[1]
    assert open_note(note + extra, [known.verifier]) == "hello\n"


@pytest.mark.parametrize(
    "note",
    [
        "no signature block\n",
        "text\n\nnot a signature\n",
        "text\n\n— name !!!\n",
        b"\xff\xfe\n\n\n",
        "ctrl\x07\n\n— a AAAA\n",
    ],
)
def test_malformed_notes_are_refused(note: str | bytes) -> None:
    with pytest.raises(VerificationError) as caught:
        open_note(note, [NoteVerifier.parse(NOTE["vkey"])])
    assert caught.value.reason == "note-malformed"


@pytest.mark.parametrize(
    "key",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a",
        "example.com/foo+530d903a+AgkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "bad name+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ],
)
def test_bad_verifier_keys_are_input_errors(key: str) -> None:
    with pytest.raises(InputError):
        NoteVerifier.parse(key)


@pytest.mark.parametrize(
    "text",
    ["origin\n", "origin\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", "o\n1\nAAAA\n"],
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(VerificationError) as caught:
        parse_checkpoint(text)
    assert caught.value.reason == "checkpoint-malformed"


def test_empty_tree_checkpoint_root() -> None:
    text = "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert parse_checkpoint(text).size == 0
