"""LiteLLM proxy spend logs (``LiteLLM_SpendLogs`` rows) exported as CSV, JSON or JSON Lines.

Per row: ``request_id``; ``startTime``/``endTime`` (RFC 3339; latency = end - start);
``model``; ``spend`` (USD) -> observed_cost_micro_usd = Decimal(repr(spend)) x 10^6 rounded
half-even to an integer; tokens from ``prompt_tokens``/``completion_tokens`` or a nested
``usage`` object (OpenAI shape, also ``metadata.usage_object``), with
``prompt_tokens_details.cached_tokens`` and ``completion_tokens_details.reasoning_tokens``
(completion tokens include reasoning tokens; the canonical output_tokens excludes them).
``metadata`` (an object, or a JSON string in CSV) gives the tenant: the first of
``metadata.user_api_key_team_alias``, ``metadata.team``, the ``team`` and ``team_id`` columns,
``metadata.user_api_key_team_id``, slugged to an identifier. Tags (``metadata.tags`` plus
``request_tags``) of the form ``key:value`` set the other attributes: ``app``, ``use_case``,
``data_class``, ``residency_class`` (or ``residency``), ``risk_class`` (or ``risk``),
``capability`` (repeatable), ``complexity``, ``confidence``. Other tags are ignored.

The observed deployment is kept unambiguous: ``custom_llm_provider`` -> observed_provider (the
``model`` column drops the provider: ``azure/eu/gpt-4o-mini`` is logged as ``eu/gpt-4o-mini``,
except behind a Router, which keeps it: a leading ``<provider>/`` is removed so that
observed_model is always the provider's own model name),
``model_group`` (the public name asked for), ``model_id``, ``api_base``; and ``status``,
``cache_hit``, ``session_id``. ``end_user`` and ``user`` are stored only as HMAC-SHA256 under a
key the caller gives; without a key they are dropped and counted, never stored raw.
The callback payload (``StandardLoggingPayload``) is read by ``litellm_payload``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError
from nexusctl.traffic._coerce import python_array
from nexusctl.traffic.importers._raw import (
    CSV_BLOCK_LARGE_ROWS,
    RawTraffic,
    iter_csv_strings,
    iter_json_lines,
    parse_json,
    read_text,
)
from nexusctl.traffic.schema import IMPORT_DEFAULTS, REQUEST_ATTRIBUTES, TRAFFIC

TAG_KEYS = {
    "app": "app",
    "use_case": "use_case",
    "data_class": "data_class",
    "residency_class": "residency_class",
    "residency": "residency_class",
    "risk_class": "risk_class",
    "risk": "risk_class",
    "complexity": "complexity",
    "confidence": "confidence",
}
_MICRO = Decimal(1_000_000)
#: A spend of 10^12 USD or more is not a request's cost (and would overflow int64 micro-USD).
_MAX_SPEND_DIGITS = 11
_OUT_COLUMNS = (
    "request_id",
    "time",
    "observed_latency_ms",
    "observed_model",
    "observed_cost_micro_usd",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    *REQUEST_ATTRIBUTES,
    "capabilities",
    "complexity",
    "confidence",
    "observed_provider",
    "observed_model_group",
    "observed_deployment_id",
    "observed_api_base",
    "observed_status",
    "observed_cache_hit",
    "session_id",
    "end_user_hmac",
    "user_hmac",
)
#: Canonical column <- spend-log column, copied as text when present.
_TEXT_COLUMNS = {
    "observed_provider": "custom_llm_provider",
    "observed_model_group": "model_group",
    "observed_deployment_id": "model_id",
    "observed_api_base": "api_base",
    "observed_status": "status",
    "session_id": "session_id",
}


def read_litellm(path: Path, hash_key: bytes | None = None) -> Iterator[RawTraffic]:
    """Stream a spend-log export (.csv, .json list, .jsonl) as chunks of raw canonical columns.

    Raises:
        TrafficError: unreadable file, not a list of spend-log objects (a callback payload
            is named, with the format that reads it).
    """
    suffix = path.suffix.lower()
    details: dict[str, Any] = {"format": f"litellm-spend-logs-{suffix.lstrip('.') or 'json'}"}
    if suffix == ".csv":
        for batch, lines in iter_csv_strings(path, CSV_BLOCK_LARGE_ROWS):
            if "request_id" not in batch.schema.names:
                raise TrafficError(f"{path}:1: not a LiteLLM spend log: no request_id column")
            yield chunk_records(batch.to_pylist(), lines, {}, details, hash_key)
        return
    for rows, lines, unparsable in iter_records(path, "request_id"):
        _refuse_payload(path, rows)
        yield chunk_records(rows, lines, unparsable, details, hash_key)


def iter_records(path: Path, id_key: str) -> Iterator[tuple[list[Any], Any, dict[int, str]]]:
    """JSON Lines (streamed), a JSON list, ``{"data": [...]}`` or one object: record chunks.

    Yields (records, each one's line or locator, {row: why it is not JSON}).

    Raises:
        TrafficError: unreadable, not JSON, not objects.
    """
    import numpy as np

    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for rows, line_list, unparsable in iter_json_lines(path):
            yield rows, np.array(line_list, dtype=np.int64), unparsable
        return
    doc = parse_json(path, read_text(path))
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc = doc["data"]
    elif isinstance(doc, dict):
        doc = [doc]  # one callback payload per file (the S3 and GCS bucket loggers)
    if not isinstance(doc, list):
        raise TrafficError(f"{path}: expected a JSON list of LiteLLM log objects")
    # A JSON list has no useful line numbers: name each row by its id instead.
    locators = [
        f"{id_key} {r.get(id_key)!r}" if isinstance(r, dict) else f"list index {i}"
        for i, r in enumerate(doc)
    ]
    yield doc, locators, {}


def _refuse_payload(path: Path, rows: list[Any]) -> None:
    first = next((r for r in rows if isinstance(r, dict)), None)
    if first is not None and "request_id" not in first and "response_cost" in first:
        raise TrafficError(
            f"{path}: this is a LiteLLM callback payload (StandardLoggingPayload: 'id', "
            "'response_cost'), not a spend log",
            hint=f"nexusctl traffic import litellm-payload {path} --out ...",
        )


def chunk_records(
    rows: list[Any],
    lines: Any,
    unparsable: dict[int, str],
    details: dict[str, Any],
    hash_key: bytes | None,
) -> RawTraffic:
    problems: list[tuple[int, str, str]] = []
    records: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if index in unparsable:
            records.append({})
        elif not isinstance(row, dict):
            unparsable[index] = f"expected a JSON object, got {type(row).__name__}"
            records.append({})
        else:
            records.append(_record(row, index, problems))
            _observations(row, records[-1], hash_key, details)
    columns = {
        name: python_array([r.get(name) for r in records], TRAFFIC.kind(name))
        for name in _OUT_COLUMNS
    }
    return RawTraffic(
        columns=columns,
        n_rows=len(records),
        lines=lines,
        defaults=dict(IMPORT_DEFAULTS),
        details=details,
        unparsable=unparsable,
        row_problems=problems,
    )


def slug(value: str) -> str:
    """Lowercase; runs of characters outside [a-z0-9._-] become '-'; trimmed to 63."""
    text = re.sub(r"[^a-z0-9._-]+", "-", value.strip().lower()).strip("-._")
    return text[:63].rstrip("-._")


def _json_object(value: Any, row: int, column: str, problems: list[tuple[int, str, str]]) -> Any:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            problems.append((row, column, f"{column} is not valid JSON (or nested too deeply)"))
            return {}
    if value is None:
        return {}
    return value


def _record(
    row: dict[str, Any], index: int, problems: list[tuple[int, str, str]]
) -> dict[str, Any]:
    metadata = _json_object(row.get("metadata"), index, "metadata", problems)
    if not isinstance(metadata, dict):
        problems.append((index, "metadata", "metadata is not a JSON object"))
        metadata = {}
    usage = _json_object(row.get("usage"), index, "usage", problems) or metadata.get("usage_object")
    usage = usage if isinstance(usage, dict) else {}
    out: dict[str, Any] = {
        "request_id": row.get("request_id"),
        "time": row.get("startTime"),
        "observed_model": row.get("model"),
        "input_tokens": _first(row.get("prompt_tokens"), usage.get("prompt_tokens")),
    }
    completion = _first(row.get("completion_tokens"), usage.get("completion_tokens"))
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    out["cached_input_tokens"] = (
        prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
    )
    reasoning = (
        completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None
    )
    out["reasoning_tokens"] = reasoning
    completion = _as_int(completion)
    reasoning_int = _as_int(reasoning)
    if completion is not None and reasoning_int is not None:
        if reasoning_int > completion:
            problems.append(
                (
                    index,
                    "reasoning_tokens",
                    f"reasoning {reasoning_int} exceeds completion {completion}",
                )
            )
        else:
            completion -= reasoning_int
    out["output_tokens"] = completion if completion is not None else row.get("completion_tokens")
    out["observed_cost_micro_usd"] = _micro_usd(row.get("spend"), index, problems)
    out["observed_latency_ms"] = _latency_ms(
        row.get("startTime"), row.get("endTime"), index, problems
    )
    team = _first(
        metadata.get("user_api_key_team_alias"),
        metadata.get("team"),
        row.get("team"),
        row.get("team_id"),
        metadata.get("user_api_key_team_id"),
    )
    out["tenant"] = slug(team) if isinstance(team, str) else team
    tags: list[Any] = []
    for source in (
        metadata.get("tags"),
        _json_object(row.get("request_tags"), index, "request_tags", problems),
    ):
        if isinstance(source, list):
            tags.extend(source)
    capabilities: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or ":" not in tag:
            continue
        key, _, value = tag.partition(":")
        key, value = key.strip().lower().replace("-", "_"), value.strip()
        if key == "capability":
            capabilities.append(value)
        elif key in TAG_KEYS:
            column = TAG_KEYS[key]
            out[column] = value if column in ("complexity", "confidence") else slug(value)
    if capabilities:
        out["capabilities"] = capabilities
    return out


def _observations(
    row: dict[str, Any], out: dict[str, Any], hash_key: bytes | None, details: dict[str, Any]
) -> None:
    """Provider, model group, deployment, status, cache hit, session; user ids as HMACs."""
    for column, key in _TEXT_COLUMNS.items():
        value = row.get(key)
        out[column] = None if value is None or value == "" else str(value)
    provider, model = out["observed_provider"], out.get("observed_model")
    if provider and isinstance(model, str) and model.startswith(provider + "/"):
        # A Router logs "azure/eu/gpt-4o-mini", the SDK "eu/gpt-4o-mini": one name per model.
        out["observed_model"] = model[len(provider) + 1 :]
    cache_hit = row.get("cache_hit")
    out["observed_cache_hit"] = None if cache_hit in (None, "", "None") else cache_hit
    for column, key in (("end_user_hmac", "end_user"), ("user_hmac", "user")):
        value = row.get(key)
        if value is None or value == "":
            continue
        if hash_key is None:
            details["user_ids_dropped"] = details.get("user_ids_dropped", 0) + 1
        else:
            out[column] = keyed_hash(hash_key, str(value))


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` (UTF-8) under ``key``, lowercase hex."""
    import hashlib
    import hmac

    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None and v != ""), None)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,18}", value.strip()):
        return int(value)
    return None


def _micro_usd(spend: Any, index: int, problems: list[tuple[int, str, str]]) -> int | None:
    """USD -> integer micro-USD exactly: the float's shortest repr, scaled, half-even."""
    if spend is None or spend == "":
        return None
    if isinstance(spend, bool) or not isinstance(spend, (int, float, str)):
        problems.append((index, "observed_cost_micro_usd", f"spend is not a number: {spend!r}"))
        return None
    try:
        amount = Decimal(spend.strip()) if isinstance(spend, str) else Decimal(repr(spend))
    except InvalidOperation:
        problems.append((index, "observed_cost_micro_usd", f"spend is not a number: {spend!r}"))
        return None
    if not amount.is_finite():
        problems.append((index, "observed_cost_micro_usd", f"spend is not finite: {spend!r}"))
        return None
    if amount.adjusted() > _MAX_SPEND_DIGITS:
        # Scaling 1e999999999 to an integer would build a billion-digit number.
        problems.append((index, "observed_cost_micro_usd", f"spend is too large: {spend!r}"))
        return None
    return int((amount * _MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))


def _latency_ms(
    start: Any, end: Any, index: int, problems: list[tuple[int, str, str]]
) -> int | None:
    if not isinstance(start, str) or not isinstance(end, str) or not end.strip():
        return None
    try:
        begin = _instant(start)
    except ValueError:
        return None  # the time column reports the bad startTime
    try:
        finish = _instant(end)
    except ValueError:
        problems.append((index, "observed_latency_ms", f"endTime is not a timestamp: {end!r}"))
        return None
    delta = finish - begin
    millis = (delta.days * 86_400_000) + delta.seconds * 1000 + delta.microseconds // 1000
    if millis < 0:
        problems.append((index, "observed_latency_ms", "endTime is before startTime"))
        return None
    return millis


def _instant(text: str) -> datetime:
    from datetime import UTC

    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
