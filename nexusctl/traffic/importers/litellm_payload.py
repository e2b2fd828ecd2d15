"""LiteLLM callback payloads (``StandardLoggingPayload``) as JSON Lines, a JSON list or one object.

What a LiteLLM ``CustomLogger`` receives as ``kwargs["standard_logging_object"]`` and what the
S3, GCS and generic loggers write. Each payload is mapped onto the spend-log row LiteLLM builds
from it, then read exactly as a spend log (``litellm``), so both formats share every rule:

* ``id`` -> request_id; ``trace_id`` -> session_id (LiteLLM's own spend-log mapping);
* ``startTime``/``endTime`` (epoch seconds, floats) -> time and latency, through
  ``Decimal(repr(x))`` truncated to the microsecond (never binary float arithmetic);
* ``response_cost`` (USD, float) -> observed_cost_micro_usd as the spend logs' ``spend``;
* ``model``, ``custom_llm_provider``, ``model_group``, ``model_id`` (or ``hidden_params.model_id``),
  ``api_base`` (or ``hidden_params.api_base``), ``status``, ``cache_hit``;
* tokens from ``prompt_tokens``/``completion_tokens``; cached and reasoning tokens from the usage
  object (``metadata.usage_object`` or ``hidden_params.usage_object``) when it is there;
* ``metadata`` (team alias or id -> tenant), ``request_tags`` (``key:value`` attributes);
* ``end_user`` and ``metadata.user_api_key_user_id`` (the spend log's ``user``) as keyed
  hashes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from nexusctl.traffic.importers._raw import RawTraffic
from nexusctl.traffic.importers.litellm import chunk_records, iter_records

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Seconds since the epoch of 9999-12-31T23:59:59Z: later times cannot be dates.
_MAX_SECONDS = Decimal(253_402_300_799)


def read_litellm_payload(path: Path, hash_key: bytes | None = None) -> Iterator[RawTraffic]:
    """Stream callback payloads as chunks of raw canonical columns (spend-log rules).

    Raises:
        TrafficError: unreadable file, not JSON objects.
    """
    details: dict[str, Any] = {"format": "litellm-standard-logging-payload"}
    for rows, lines, unparsable in iter_records(path, "id"):
        spend_rows = [as_spend_log(row) if isinstance(row, dict) else row for row in rows]
        yield chunk_records(spend_rows, lines, unparsable, details, hash_key)


def as_spend_log(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``LiteLLM_SpendLogs`` row LiteLLM would build from this payload."""
    metadata = payload.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    hidden = payload.get("hidden_params")
    hidden = hidden if isinstance(hidden, dict) else {}
    usage = metadata.get("usage_object") or hidden.get("usage_object")
    return {
        "request_id": payload.get("id"),
        "startTime": _rfc3339(payload.get("startTime")),
        "endTime": _rfc3339(payload.get("endTime")),
        "spend": payload.get("response_cost"),
        "model": payload.get("model"),
        "custom_llm_provider": payload.get("custom_llm_provider"),
        "model_group": payload.get("model_group"),
        "model_id": payload.get("model_id") or hidden.get("model_id"),
        "api_base": payload.get("api_base") or hidden.get("api_base"),
        "status": payload.get("status"),
        "cache_hit": payload.get("cache_hit"),
        "session_id": payload.get("trace_id"),
        "prompt_tokens": payload.get("prompt_tokens"),
        "completion_tokens": payload.get("completion_tokens"),
        "usage": usage if isinstance(usage, dict) else None,
        "metadata": metadata,
        "request_tags": payload.get("request_tags"),
        "end_user": payload.get("end_user"),
        "user": metadata.get("user_api_key_user_id"),
    }


def _rfc3339(seconds: Any) -> Any:
    """Epoch seconds (a float) -> RFC 3339 text exact to the microsecond; others unchanged.

    A value that is not a number is passed on as it is, so the time column names it.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return seconds
    try:
        exact = Decimal(repr(seconds))
    except InvalidOperation:
        return repr(seconds)
    if not exact.is_finite() or exact < 0 or exact > _MAX_SECONDS:
        return repr(seconds)
    micros = int((exact * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
