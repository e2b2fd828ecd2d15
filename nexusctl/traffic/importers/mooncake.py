"""The Mooncake trace (Kimi's serving traces): JSON Lines with block hash ids per request.

kvcache-ai/Mooncake (Qin et al., "Mooncake: Trading More Storage for Less Computation — A
KVCache-centric Architecture for Serving LLM Chatbot", FAST 2025; traces under
``FAST25-release/traces``). One object per line::

    {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, ...]}

``timestamp`` is milliseconds since the start of the trace, added to ``start_ms``
(``DEFAULT_START_MS`` unless given); ``input_length`` -> input_tokens, ``output_length`` ->
output_tokens, reasoning_tokens = 0; ``request_id`` is ``mooncake-<workload>-<row>``.
``hash_ids`` names the request's prompt blocks (``block_tokens`` tokens each, 512 in the
published traces; the last one may be partial): equal ids are equal prefixes.

With a cache capacity (``PrefixCache``), ``cached_input_tokens`` is derived, not drawn: the
requests are replayed in file order (which must be time order) through an LRU prefix cache of
that many blocks; a request's cached tokens are its longest run of leading blocks present in
the cache on arrival (times ``block_tokens``, at most ``input_length``); then all its blocks
are in the cache, most recently used. Lines are parsed strictly (unique keys, bounded depth,
integers within I-JSON's range, counts that are integers and not ``true`` or ``"600"``); a bad
line is an invalid row named by its line, and is not replayed through the cache. Without a
cache, cached tokens must come from the enrichment spec (``cachedShare``), like every
attribute the trace does not record.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexusctl.document.strict_json import JsonLimitError, loads_strict
from nexusctl.errors import TrafficError
from nexusctl.traffic.importers._raw import RawTraffic, iter_line_blocks, split_lines
from nexusctl.traffic.schema import REQUEST_ATTRIBUTES

#: Tokens per hashed block in the published traces (FAST'25 release README).
BLOCK_TOKENS = 512
#: Columns the trace lacks: each must come from the enrichment spec (cached tokens too,
#: unless the prefix cache derives them).
NEEDS_ENRICHMENT = (
    *REQUEST_ATTRIBUTES,
    "capabilities",
    "complexity",
)
_FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")
#: Larger counts cannot be stored (int64, with the time origin added); the table's own rules
#: (the token cap, the time range) then report any value they do not accept.
_LARGEST = 1 << 62
#: A request is an object holding one list: nothing nests deeper.
_MAX_DEPTH = 4


@dataclass
class PrefixCache:
    """An LRU cache of prompt blocks, ``capacity`` blocks of ``block_tokens`` tokens."""

    capacity: int
    block_tokens: int = BLOCK_TOKENS
    _blocks: OrderedDict[int, None] = field(default_factory=OrderedDict, repr=False)
    hits: int = 0
    lookups: int = 0

    def admit(self, hash_ids: list[int], input_tokens: int) -> int:
        """Return the cached input tokens of a request, then cache all of its blocks."""
        blocks = self._blocks
        prefix = 0
        for block in hash_ids:
            if block not in blocks:
                break
            prefix += 1
        self.lookups += len(hash_ids)
        self.hits += prefix
        for block in hash_ids:
            if block in blocks:
                blocks.move_to_end(block)
            else:
                blocks[block] = None
        while len(blocks) > self.capacity:
            blocks.popitem(last=False)
        return min(prefix * self.block_tokens, input_tokens)


def read_mooncake(
    path: Path, cache: PrefixCache | None, start_ms: int, workload: str | None = None
) -> Iterator[RawTraffic]:
    """Stream a Mooncake trace as chunks of raw canonical columns.

    Raises:
        TrafficError: not UTF-8, unreadable, or (with a cache) rows out of time order.
    """
    import pyarrow as pa

    prefix = f"mooncake-{workload or _workload(path)}-"
    row = 0
    last_time = -1
    details: dict[str, Any] = {
        "format": "mooncake-trace",
        "time_origin_ms": start_ms,
        "prefix_cache": None
        if cache is None
        else {"capacity_blocks": cache.capacity, "block_tokens": cache.block_tokens},
    }
    for block, first_line in iter_line_blocks(path):
        lines, numbers = split_lines(block, first_line)
        values, errors = _parse(lines)
        times: list[int | None] = []
        inputs: list[int | None] = []
        outputs: list[int | None] = []
        cached: list[int | None] = []
        ids: list[str] = []
        for index, value in enumerate(values):
            row += 1
            ids.append(f"{prefix}{row}")
            record = None if index in errors else _record(value)
            if isinstance(record, str):
                errors[index] = record
            if index in errors or not isinstance(record, tuple):
                for column in (times, inputs, outputs, cached):
                    column.append(None)
                continue
            timestamp, input_length, output_length, hash_ids = record
            if cache is not None and timestamp < last_time:
                raise TrafficError(
                    f"{path}:{numbers[index]}: timestamp {timestamp} is before the previous "
                    f"request's {last_time}: the prefix cache is replayed in time order",
                    hint="sort the trace by timestamp (stable) first",
                )
            last_time = max(last_time, timestamp)
            times.append(start_ms + timestamp)
            inputs.append(input_length)
            outputs.append(output_length)
            cached.append(None if cache is None else cache.admit(hash_ids, input_length))
        columns: dict[str, Any] = {
            "time": pa.array(times, pa.int64()),
            "request_id": pa.array(ids, pa.string()),
            "input_tokens": pa.array(inputs, pa.int64()),
            "output_tokens": pa.array(outputs, pa.int64()),
        }
        if cache is not None:
            columns["cached_input_tokens"] = pa.array(cached, pa.int64())
            details["prefix_cache"]["block_hit_ratio"] = (
                round(cache.hits / cache.lookups, 6) if cache.lookups else 0.0
            )
        yield RawTraffic(
            columns=columns,
            n_rows=len(values),
            lines=numbers,
            defaults={"reasoning_tokens": 0},
            details=details,
            unparsable=errors,
        )


def _parse(lines: list[bytes]) -> tuple[list[Any], dict[int, str]]:
    """Parse each line strictly (I-JSON: unique keys, bounded depth and integers)."""
    values: list[Any] = []
    errors: dict[int, str] = {}
    for row, line in enumerate(lines):
        try:
            values.append(loads_strict(line, max_depth=_MAX_DEPTH))
        except JsonLimitError as exc:
            values.append(None)
            where = f" at column {exc.column}" if exc.column else ""
            errors[row] = f"invalid JSON{where}: {exc}"
    return values, errors


def _record(value: Any) -> tuple[int, int, int, list[int]] | str:
    """The four fields of one line, strictly typed, or why the line is not a request."""
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    missing = [name for name in _FIELDS if name not in value]
    if missing:
        return "missing field(s) " + ", ".join(missing)
    numbers = []
    for name in _FIELDS[:3]:
        number = value[name]
        # bool is an int in Python; JSON true is not a count.
        if type(number) is not int or not 0 <= number <= _LARGEST:
            return f"{name} must be a non-negative integer, got {number!r}"[:200]
        numbers.append(number)
    hash_ids = value["hash_ids"]
    if not isinstance(hash_ids, list) or not all(
        type(block) is int and block >= 0 for block in hash_ids
    ):
        return "hash_ids must be a list of non-negative integers"
    return numbers[0], numbers[1], numbers[2], hash_ids


def _workload(path: Path) -> str:
    """``conversation_trace.jsonl`` -> ``conversation``; other names are slugged."""
    import re

    stem = re.sub(r"_trace$", "", path.stem.lower())
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "trace"
