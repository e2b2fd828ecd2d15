"""The Merkle tree against every transparency-dev/merkle probe and the RFC 6962 reference tree."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from nexusctl.errors import VerificationError
from nexusctl.evidence.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from nexusctl.evidence.tiles import DirTiles, MemoryTiles, append_tiles, tile_path
from tests.conftest import SHARED_DATA

VECTORS = SHARED_DATA / "vectors"
PROBES = VECTORS / "transparency-dev-merkle" / "testdata"
REFERENCE = json.loads((VECTORS / "rfc6962_reference_tree.json").read_text())


def _probes(kind: str) -> list[Path]:
    found = sorted((PROBES / kind).rglob("*.json"))
    assert found, f"no {kind} probes under {PROBES}"
    return found


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _id(path: Path) -> str:
    return str(path.relative_to(PROBES))


def test_every_probe_is_exercised() -> None:
    assert len(_probes("inclusion")) + len(_probes("consistency")) == 196


@pytest.mark.parametrize("path", _probes("inclusion"), ids=_id)
def test_inclusion_probe(path: Path) -> None:
    probe = json.loads(path.read_text())
    args = (
        probe["leafIdx"],
        probe["treeSize"],
        _b64(probe["leafHash"]),
        [_b64(p) for p in probe["proof"] or []],
        _b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(VerificationError) as caught:
            verify_inclusion(*args)
        assert caught.value.reason == "inclusion-proof-invalid"
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _probes("consistency"), ids=_id)
def test_consistency_probe(path: Path) -> None:
    probe = json.loads(path.read_text())
    args = (
        probe["size1"],
        probe["size2"],
        _b64(probe["root1"]),
        _b64(probe["root2"]),
        [_b64(p) for p in probe["proof"] or []],
    )
    if probe["wantErr"]:
        with pytest.raises(VerificationError) as caught:
            verify_consistency(*args)
        assert caught.value.reason == "consistency-proof-invalid"
    else:
        verify_consistency(*args)


def _reference_tree() -> MemoryTiles:
    tree = MemoryTiles()
    tree.append(b"".join(leaf_hash(bytes.fromhex(h)) for h in REFERENCE["leaves_hex"]))
    return tree


def test_hasher_unit_vectors() -> None:
    units = REFERENCE["hasher_unit_vectors"]
    assert EMPTY_ROOT.hex() == units["empty_root"]
    assert leaf_hash(b"").hex() == units["leaf_hash('')"]
    assert leaf_hash(b"L123456").hex() == units["leaf_hash('L123456')"]
    assert node_hash(b"N123", b"N456").hex() == units["node_hash('N123','N456')"]


def test_reference_roots_for_every_size() -> None:
    tree = _reference_tree()
    roots = REFERENCE["roots_by_size"]
    assert len(roots) == 9
    for size, expected in roots.items():
        assert root_hash(tree, int(size)).hex() == expected, size


def test_reference_inclusion_proofs_are_generated_exactly() -> None:
    tree = _reference_tree()
    assert REFERENCE["inclusion"]
    for case in REFERENCE["inclusion"]:
        path = inclusion_proof(tree, case["leaf_index"], case["tree_size"])
        assert [p.hex() for p in path] == case["path"]
        verify_inclusion(
            case["leaf_index"],
            case["tree_size"],
            bytes.fromhex(case["leaf_hash"]),
            path,
            bytes.fromhex(case["root"]),
        )


def test_reference_consistency_proofs_are_generated_exactly() -> None:
    tree = _reference_tree()
    assert REFERENCE["consistency"]
    for case in REFERENCE["consistency"]:
        path = consistency_proof(tree, case["size1"], case["size2"])
        assert [p.hex() for p in path] == case["path"]
        verify_consistency(
            case["size1"],
            case["size2"],
            bytes.fromhex(case["root1"]),
            bytes.fromhex(case["root2"]),
            path,
        )


def _naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_naive_root(leaves[:k]), _naive_root(leaves[k:]))


@pytest.mark.parametrize("size", [1, 255, 256, 257, 511, 1000, 65536 + 300])
def test_tiled_tree_agrees_with_the_recursive_definition_and_its_own_proofs(size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = MemoryTiles()
    tree.append(b"".join(leaves))
    assert root_hash(tree, size) == _naive_root(leaves)
    root = root_hash(tree, size)
    for index in {0, size // 2, size - 1}:
        verify_inclusion(index, size, leaves[index], inclusion_proof(tree, index, size), root)
    for old in {1, size // 3 or 1, size - 1 or 1}:
        proof = consistency_proof(tree, old, size)
        verify_consistency(old, size, root_hash(tree, old), root, proof)


def test_tiles_on_disk_append_in_pieces_equal_tiles_built_at_once(tmp_path: Path) -> None:
    leaves = b"".join(leaf_hash(i.to_bytes(4, "big")) for i in range(70_000))
    size = 0
    for cut in (1, 300, 65_536, 65_537, 70_000):
        reader = DirTiles(tmp_path, size)
        for tile in append_tiles(reader, leaves[size * 32 : cut * 32]):
            target = tmp_path / tile.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tile.data)
        size = cut
    whole = MemoryTiles()
    whole.append(leaves)
    for tile in whole.tiles():
        assert (tmp_path / tile.path).read_bytes() == tile.data, tile.path
    # The spec's example: 70,000 leaves -> partial level-0 width 112, level-1 17, level-2 1.
    assert (tmp_path / "tile/0/273.p/112").stat().st_size == 112 * 32
    assert (tmp_path / "tile/1/001.p/17").is_file()
    assert (tmp_path / "tile/2/000.p/1").is_file()
    assert root_hash(DirTiles(tmp_path, size), size) == root_hash(whole, size)
    assert hashlib.sha256(leaves).digest()  # leaves were hashed, not empty


def test_tile_paths_follow_the_spec() -> None:
    assert tile_path(0, 5) == "tile/0/005"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(2, 1, 17) == "tile/2/001.p/17"


def test_truncated_tile_is_a_verification_error(tmp_path: Path) -> None:
    tree = MemoryTiles()
    tree.append(b"".join(leaf_hash(bytes([i])) for i in range(10)))
    for tile in tree.tiles():
        (tmp_path / tile.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / tile.path).write_bytes(tile.data[:-1])
    with pytest.raises(VerificationError) as caught:
        root_hash(DirTiles(tmp_path, 10), 10)
    assert caught.value.reason == "tile-truncated"
