"""Parse untrusted JSON in bounded time, stack and memory: the reader for signatures and manifests.

``json.loads`` alone is not safe on hostile bytes: 100k nested brackets exhaust the recursion
limit (``RecursionError``), an integer of 4,300+ digits raises a bare ``ValueError``, and a
huge count of tiny objects costs far more memory than its bytes. ``loads_strict`` measures
nesting and container count on the raw bytes *before* building anything, then parses with
I-JSON's number rules (RFC 7493 §2.2: integers within ±(2^53-1), which RFC 8785 canonical
bytes also require), no NaN/Infinity and no duplicate object keys.

The pre-scan counts every bracket byte, including brackets inside strings: it can only
overestimate, so it never lets a deeper or larger document through (a legitimate document
would need dozens of unbalanced ``[`` in its strings to be refused). It allocates at most one
copy of the bracket bytes, never one object per token.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

#: RFC 7493 §2.2: integers outside ±(2^53 - 1) are not interoperable (and not RFC 8785).
MAX_SAFE_INTEGER = 2**53 - 1
DEFAULT_MAX_DEPTH = 32

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class JsonLimitError(ValueError):
    """The bytes are not JSON, or are JSON beyond the reader's bounds."""


class JsonTooLargeError(JsonLimitError):
    """The JSON holds more objects and arrays than the caller allows."""


def loads_strict(
    raw: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, max_containers: int | None = None
) -> Any:
    """Parse ``raw`` (UTF-8 JSON) within the bounds; return plain Python values.

    ``max_containers`` bounds the number of objects and arrays (``None``: only the byte length
    the caller already capped bounds it).

    Raises:
        JsonTooLargeError: more objects and arrays than ``max_containers``.
        JsonLimitError: not UTF-8 JSON, nested deeper than ``max_depth``, an integer outside
            ±(2^53-1), NaN/Infinity or a duplicate key.
    """
    brackets = raw.translate(None, _NOT_BRACKETS)
    opened = brackets.count(b"[") + brackets.count(b"{")
    if max_containers is not None and opened > max_containers:
        raise JsonTooLargeError(f"more than {max_containers} JSON objects and arrays")
    if len(brackets) > 2 * max_depth:
        depth = max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)
        if depth > max_depth:
            raise JsonLimitError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(
            raw,
            parse_int=_safe_int,
            parse_constant=_no_constant,
            object_pairs_hook=_unique_keys,
        )
    except JsonLimitError:
        raise
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise JsonLimitError(f"not JSON: {exc.msg} at {where}") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise JsonLimitError(f"not JSON: {exc}") from None


def _safe_int(text: str) -> int:
    # Refuse on length first: int() of a 100k-digit string is itself the slow part.
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"
        raise JsonLimitError(f"integer {shown} is outside ±(2^53-1) (RFC 7493)")
    return value


def _no_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonLimitError(f"duplicate key {key!r}")
        out[key] = value
    return out
