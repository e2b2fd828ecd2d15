"""Merkle tree hashes stored as C2SP tlog-tiles, so standard transparency-log tools read them.

Layout (c2sp.org/tlog-tiles): ``tile/<L>/<N>`` is a full tile of 256 concatenated 32-byte
hashes, ``tile/<L>/<N>.p/<W>`` a partial tile of ``W`` (1..255) hashes. Level 0 holds leaf
hashes; level ``L`` entry ``i`` is the root of leaves ``[i * 256**L, (i + 1) * 256**L)``. ``N``
is written in zero-padded groups of three digits, all but the last prefixed ``x``
(``1234067`` -> ``x001/x234/067``). Partial tiles are never hashed upwards.

:class:`MemoryTiles` keeps every level in memory (verification recomputes the whole tree);
:class:`DirTiles` reads tiles from disk for one tree size (proofs read a few tiles);
:func:`append_tiles` yields the tiles an append writes, from the old size's partial tiles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from nexusctl.errors import VerificationError
from nexusctl.evidence.merkle import HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, fold_perfect

_TILE_BYTES = TILE_WIDTH * HASH_SIZE


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Return the tlog-tiles path of a tile, relative to the log prefix."""
    digits = f"{index:03d}"
    while len(digits) % 3:
        digits = "0" + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    name = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{name}{suffix}"


def level_count(size: int, level: int) -> int:
    """Return how many complete entries tile level ``level`` has in a tree of ``size`` leaves."""
    return size >> (TILE_HEIGHT * level)


def tiles_for_size(size: int) -> Iterator[tuple[int, int, int]]:
    """Yield ``(level, index, width)`` of every tile a tree of ``size`` leaves has."""
    level = 0
    while True:
        count = level_count(size, level)
        if count == 0:
            return
        full, width = divmod(count, TILE_WIDTH)
        for index in range(full):
            yield level, index, TILE_WIDTH
        if width:
            yield level, full, width
        if count < TILE_WIDTH:
            return
        level += 1


class Tile(NamedTuple):
    """One tile to write: its level, index, width and bytes."""

    level: int
    number: int
    width: int
    data: bytes

    @property
    def path(self) -> str:
        """The tile's tlog-tiles path."""
        return tile_path(self.level, self.number, self.width)


class MemoryTiles:
    """A tiled Merkle tree held in memory: every level's entries, concatenated."""

    def __init__(self) -> None:
        self.levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return len(self.levels[0]) // HASH_SIZE

    def append(self, leaf_hashes: bytes) -> None:
        """Append concatenated leaf hashes and fold every tile they complete upwards."""
        self.levels[0] += leaf_hashes
        level = 0
        while True:
            entries = self.levels[level]
            if len(entries) < _TILE_BYTES:
                return
            if level + 1 == len(self.levels):
                self.levels.append(bytearray())
            upper = self.levels[level + 1]
            done = len(upper) * _TILE_BYTES
            complete = len(entries) // _TILE_BYTES * _TILE_BYTES
            for offset in range(done, complete, _TILE_BYTES):
                upper += fold_perfect(bytes(entries[offset : offset + _TILE_BYTES]))
            level += 1

    def entries(self, level: int, start: int, count: int) -> bytes:
        """Return ``count`` hashes of ``level`` from ``start``.

        Raises:
            ValueError: the entries are not all present.
        """
        data = self.levels[level] if level < len(self.levels) else bytearray()
        chunk = bytes(data[start * HASH_SIZE : (start + count) * HASH_SIZE])
        if len(chunk) != count * HASH_SIZE:
            raise ValueError(f"tile level {level} has no entries {start}..{start + count - 1}")
        return chunk

    def tiles(self, size: int | None = None) -> Iterator[Tile]:
        """Yield every tile of the tree (at ``size`` leaves; default all)."""
        for level, index, width in tiles_for_size(self.size if size is None else size):
            start = index * _TILE_BYTES
            yield Tile(
                level, index, width, bytes(self.levels[level][start : start + width * HASH_SIZE])
            )


class TileSource(Protocol):
    """Where tiles are read from: a directory, or a log's objects (local or S3)."""

    def read_tile(self, relative: str, cap: int) -> bytes:
        """Return at most ``cap + 1`` bytes of a tile; ``OSError`` if it cannot be read."""
        ...

    def describe(self, relative: str) -> str:
        """Where the tile lives, for messages."""
        ...


class _Folder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def read_tile(self, relative: str, cap: int) -> bytes:
        with open(self.root / relative, "rb") as handle:
            return handle.read(cap + 1)

    def describe(self, relative: str) -> str:
        return str(self.root / relative)


class DirTiles:
    """Reads the tiles of a tree of ``size`` leaves from a tlog-tiles directory or source."""

    def __init__(self, root: Path | TileSource, size: int) -> None:
        self.source: TileSource = _Folder(root) if isinstance(root, Path) else root
        self.size = size
        self._cache: dict[tuple[int, int], bytes] = {}

    def _tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self._cache:
            full, partial = divmod(level_count(self.size, level), TILE_WIDTH)
            width = TILE_WIDTH if index < full else partial
            if index > full or width == 0:
                raise ValueError(f"tile {level}/{index} is beyond a tree of {self.size} leaves")
            relative = tile_path(level, index, width)
            path = self.source.describe(relative)
            try:
                data = self.source.read_tile(relative, _TILE_BYTES)
            except OSError as exc:
                raise VerificationError(
                    f"{path}: tile missing or unreadable ({exc.strerror or 'not found'})",
                    reason="tile-missing",
                ) from None
            if len(data) != width * HASH_SIZE:
                raise VerificationError(
                    f"{path}: tile holds {len(data)} bytes, expected {width * HASH_SIZE}",
                    reason="tile-truncated",
                )
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = data
        return self._cache[key]

    def entries(self, level: int, start: int, count: int) -> bytes:
        """Return ``count`` hashes of ``level`` from ``start``, reading the tiles holding them.

        Raises:
            VerificationError: a tile is missing (``tile-missing``) or cut (``tile-truncated``).
        """
        out = bytearray()
        position = start
        while position < start + count:
            index, offset = divmod(position, TILE_WIDTH)
            take = min(TILE_WIDTH - offset, start + count - position)
            tile = self._tile(level, index)
            chunk = tile[offset * HASH_SIZE : (offset + take) * HASH_SIZE]
            if len(chunk) != take * HASH_SIZE:
                raise ValueError(f"tile {level}/{index} lacks entries for {position}")
            out += chunk
            position += take
        return bytes(out)


def append_tiles(old: DirTiles, leaf_hashes: bytes) -> Iterator[Tile]:
    """Yield the tiles to write when ``leaf_hashes`` are appended to the tree ``old``.

    Only the old partial tiles are read (at most 255 hashes per level): the cost of an append
    is proportional to what is appended, not to the tree.
    """
    pending: list[bytearray] = []
    first_index: list[int] = []
    level = 0
    while True:
        count = level_count(old.size, level)
        full, width = divmod(count, TILE_WIDTH)
        pending.append(bytearray(old.entries(level, full * TILE_WIDTH, width) if width else b""))
        first_index.append(full)
        if count < TILE_WIDTH:
            break
        level += 1
    pending[0] += leaf_hashes
    level = 0
    while level < len(pending):
        entries = pending[level]
        complete = len(entries) // _TILE_BYTES
        for n in range(complete):
            data = bytes(entries[n * _TILE_BYTES : (n + 1) * _TILE_BYTES])
            yield Tile(level, first_index[level] + n, TILE_WIDTH, data)
            if level + 1 == len(pending):
                pending.append(bytearray())
                first_index.append(0)
            pending[level + 1] += fold_perfect(data)
        rest = bytes(entries[complete * _TILE_BYTES :])
        first_index[level] += complete
        if rest:
            yield Tile(level, first_index[level], len(rest) // HASH_SIZE, rest)
        level += 1
