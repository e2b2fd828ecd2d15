"""The RFC 6962 / RFC 9162 Merkle tree: hashes, proofs, and their verification.

Hashing (RFC 9162 §2.1.1): a leaf is ``SHA-256(0x00 || data)``, an interior node
``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``. The tree is left-filled,
never padded: for ``n > 1`` leaves the left subtree holds the largest power of two ``k < n``.

Proofs are built over a :class:`HashReader`, anything that can return the hashes of complete
level entries of a tiled tree (C2SP tlog-tiles, :mod:`nexusctl.evidence.tiles`): tile level
``L`` entry ``i`` is the hash of leaves ``[i * 256**L, (i + 1) * 256**L)``. Every node a proof
needs is a perfect subtree, computed from at most 128 entries of one level, so a proof costs a
few tile reads whatever the tree size, never a recomputation of the tree.

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) and agrees with
every probe of transparency-dev/merkle (``tests/unit/evidence_merkle_test``). Edge cases follow
transparency-dev: a consistency proof from the empty tree is refused; roots are not
length-checked in consistency proofs of equal sizes, inclusion hashes must be 32 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from nexusctl.errors import VerificationError

HASH_SIZE = 32
#: Hashes per full tile (C2SP tlog-tiles): eight binary levels per tile level.
TILE_WIDTH = 256
TILE_HEIGHT = 8
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF = b"\x00"
_NODE = b"\x01"
_NODE_HASH = hashlib.sha256(_NODE)


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE + left + right).digest()


def fold_perfect(hashes: bytes) -> bytes:
    """Return the root of a perfect tree whose level hashes are concatenated in ``hashes``.

    The count of 32-byte hashes must be a power of two (one hash is its own root).
    """
    level = hashes
    # A copy of a hash object fed the 0x01 prefix once: cheaper than a fresh object per node.
    fresh = _NODE_HASH.copy
    while len(level) > HASH_SIZE:
        view = memoryview(level)
        parts = []
        for i in range(0, len(level), 2 * HASH_SIZE):
            node = fresh()
            node.update(view[i : i + 2 * HASH_SIZE])
            parts.append(node.digest())
        level = b"".join(parts)
    return level


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class HashReader(Protocol):
    """Reads the complete entries of a tiled Merkle tree."""

    def entries(self, level: int, start: int, count: int) -> bytes:
        """Return ``count`` concatenated 32-byte hashes of tile level ``level`` from ``start``."""
        ...


def perfect_subtree(reader: HashReader, start: int, height: int) -> bytes:
    """Return the hash of the perfect subtree of ``2**height`` leaves starting at ``start``."""
    level, within = divmod(height, TILE_HEIGHT)
    return fold_perfect(reader.entries(level, start >> (TILE_HEIGHT * level), 1 << within))


def subtree_hash(reader: HashReader, start: int, end: int) -> bytes:
    """Return MTH(D[start:end]) for a range whose start is aligned as RFC 9162 proofs need."""
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return perfect_subtree(reader, start, size.bit_length() - 1)
    split = _largest_power_of_two_below(size)
    return node_hash(
        subtree_hash(reader, start, start + split), subtree_hash(reader, start + split, end)
    )


def root_hash(reader: HashReader, size: int) -> bytes:
    """Return the root hash of the first ``size`` leaves."""
    return subtree_hash(reader, 0, size)


def inclusion_proof(reader: HashReader, index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 §2.1.3.1 inclusion path of leaf ``index`` in the tree of ``size``.

    Raises:
        ValueError: ``index`` is not inside the tree.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        split = start + _largest_power_of_two_below(end - start)
        if index < split:
            path.append(subtree_hash(reader, split, end))
            end = split
        else:
            path.append(subtree_hash(reader, start, split))
            start = split
    path.reverse()
    return path


def consistency_proof(reader: HashReader, old_size: int, new_size: int) -> list[bytes]:
    """Return the RFC 9162 §2.1.4.1 consistency proof from ``old_size`` to ``new_size``.

    Raises:
        ValueError: not ``0 < old_size <= new_size``.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    path: list[bytes] = []
    start, end, complete = 0, new_size, True
    m = old_size
    while True:
        if m == end - start:
            if not complete:
                path.append(subtree_hash(reader, start, end))
            break
        split = _largest_power_of_two_below(end - start)
        if m <= split:
            path.append(subtree_hash(reader, start + split, end))
            end = start + split
        else:
            path.append(subtree_hash(reader, start, start + split))
            start += split
            m -= split
            complete = False
    path.reverse()
    return path


def _fail(reason: str, message: str) -> VerificationError:
    return VerificationError(message, reason=reason)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2).

    Raises:
        VerificationError: reason ``inclusion-proof-invalid``.
    """
    reason = "inclusion-proof-invalid"
    if not 0 <= index < size:
        raise _fail(reason, f"leaf index {index} is outside a tree of {size} leaves")
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        raise _fail(reason, "leaf and root hashes must be 32 bytes")
    if any(len(p) != HASH_SIZE for p in proof):
        raise _fail(reason, "every proof hash must be 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise _fail(reason, "inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail(reason, "inclusion proof is shorter than the tree is deep")
    if r != root:
        raise _fail(reason, "inclusion proof does not lead to the root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2).

    Raises:
        VerificationError: reason ``consistency-proof-invalid``.
    """
    reason = "consistency-proof-invalid"
    if old_size <= 0:
        raise _fail(reason, "a consistency proof from the empty tree is meaningless")
    if old_size > new_size:
        raise _fail(reason, f"tree shrank from {old_size} to {new_size} leaves")
    if old_size == new_size:
        if proof:
            raise _fail(reason, "equal tree sizes need an empty consistency proof")
        if old_root != new_root:
            raise _fail(reason, "equal tree sizes with different root hashes")
        return
    if not proof:
        raise _fail(reason, "empty consistency proof between different tree sizes")
    if any(len(p) != HASH_SIZE for p in proof):
        raise _fail(reason, "every proof hash must be 32 bytes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _fail(reason, "consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail(reason, "consistency proof is shorter than the tree is deep")
    if fr != old_root or sr != new_root:
        raise _fail(reason, "consistency proof does not lead to both root hashes")
