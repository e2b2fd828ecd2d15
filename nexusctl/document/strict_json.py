"""Parse untrusted JSON in bounded time, stack and memory: price tables, requests, any JSON input.

``json.loads`` alone is not safe on hostile bytes: 100k nested brackets exhaust the recursion
limit (``RecursionError``), an integer of 4,300+ digits raises a bare ``ValueError`` (Python's
int-to-str limit), ``1e400`` silently becomes ``inf`` and a repeated key silently keeps the
last value. ``loads_strict`` measures nesting on the raw bytes *before* building anything
(strings are blanked first, so brackets inside them do not count), then parses with I-JSON's
rules (RFC 7493 §2.2: integers within ±(2^53-1), which RFC 8785 canonical bytes also require;
§2.3: unique member names), no NaN/Infinity and no non-finite number.

The caller bounds the byte length (``nexusctl.files.read_bounded``); this module bounds the rest.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

#: RFC 7493 §2.2: integers outside ±(2^53 - 1) are not interoperable (and not RFC 8785).
MAX_SAFE_INTEGER = 2**53 - 1
DEFAULT_MAX_DEPTH = 32

#: Bytes that are neither a bracket nor a quote: dropped to get the document's skeleton.
_NOT_SKELETON = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class JsonLimitError(ValueError):
    """The bytes are not JSON, or are JSON beyond the reader's bounds.

    ``line`` and ``column`` (1-based) are set when the parser knows where the problem is.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


class JsonTooLargeError(JsonLimitError):
    """The JSON holds more objects and arrays than the caller allows."""


def loads_strict(
    raw: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH, max_containers: int | None = None
) -> Any:
    """Parse ``raw`` (UTF-8 JSON) within the bounds; return plain Python values.

    ``max_containers`` bounds the number of objects and arrays (``None``: only the byte length
    the caller already capped bounds it): a huge count of tiny objects costs far more memory
    than its bytes.

    Raises:
        JsonTooLargeError: more objects and arrays than ``max_containers``.
        JsonLimitError: not UTF-8 JSON, nested deeper than ``max_depth``, an integer outside
            ±(2^53-1), a non-finite number (NaN, Infinity, 1e400) or a duplicate key (named).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # Every bracket, in strings too, bounds both the nesting and the container count from
    # above: a small document (a signed record, a request) needs no skeleton at all.
    rough = data.count(b"[") + data.count(b"{")
    if rough > max_depth or (max_containers is not None and rough > max_containers):
        brackets = _brackets(data)
        if max_containers is not None:
            opened = brackets.count(b"[") + brackets.count(b"{")
            if opened > max_containers:
                raise JsonTooLargeError(f"more than {max_containers} JSON objects and arrays")
        if len(brackets) > 2 * max_depth:
            depth = max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)
            if depth > max_depth:
                raise JsonLimitError(f"JSON nested deeper than {max_depth} levels")
    try:
        if isinstance(raw, str):
            if raw.startswith("\ufeff"):  # as json.loads: a str must not keep its BOM
                raise json.JSONDecodeError("Unexpected UTF-8 BOM", raw, 0)
            text = raw
        else:  # as json.loads decodes bytes (UTF-8, a BOM dropped; UTF-16/32 detected)
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        return _DECODER.decode(text)
    except JsonLimitError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonLimitError(f"not JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except UnicodeDecodeError:
        raise JsonLimitError("not UTF-8 text") from None
    except (RecursionError, ValueError) as exc:
        raise JsonLimitError(f"not JSON: {exc}") from None


def _brackets(data: bytes) -> bytes:
    """The document's brackets outside strings, in order, with C-speed byte operations only.

    Escaped backslashes, then escaped quotes, are removed; what is left of every string is a
    plain ``"..."`` run; once everything but brackets and quotes is dropped, the pieces between
    quotes alternate outside / inside a string.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = data.translate(None, _NOT_SKELETON)
    return b"".join(skeleton.split(b'"')[::2])  # even pieces lie outside strings


def _safe_int(text: str) -> int:
    if len(text) < 16:  # |value| < 10^15 < 2^53: the common case, no further check
        return int(text)
    # Refuse on length first: int() of a 100k-digit string is itself the slow part.
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text.lstrip('-'))} digits)"
        raise JsonLimitError(f"integer {shown} is outside ±(2^53-1) (RFC 7493)")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf - inf is NaN; every finite value gives 0.0
        shown = text if len(text) <= 24 else f"{text[:12]}..."
        raise JsonLimitError(f"number {shown} is too large (not a finite number)")
    return value


def _no_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not JSON (only finite numbers are)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonLimitError(f"duplicate key {key!r}")
            seen.add(key)
    return out


#: One decoder for every call: ``json.loads`` with hooks builds a decoder (and its scanner)
#: each time, which costs as much as parsing a small signed record. The C scanner keeps no
#: state between calls but a key-interning cache it clears, so sharing it is safe.
_DECODER = json.JSONDecoder(
    parse_int=_safe_int,
    parse_float=_finite_float,
    parse_constant=_no_constant,
    object_pairs_hook=_unique_keys,
)
