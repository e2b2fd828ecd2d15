"""OpenTelemetry GenAI spans exported as OTLP JSON (``resourceSpans[].scopeSpans[].spans[]``).

One row per *inference* span: ``gen_ai.operation.name`` is ``chat``, ``text_completion`` or
``generate_content`` (semantic conventions v1.41, experimental), or absent on a span that still
reports ``gen_ai.usage.*`` tokens (older instrumentations). Other ``gen_ai`` spans (embeddings,
tools, agents) and non-GenAI spans are counted and ignored. Resource attributes apply to every
span below them; a span's own attribute wins. Accepts one export document, or JSON Lines of
them (the OTLP file exporter). The full mapping is in docs/traffic.md.

Trace and span ids are lowercase hex (OTLP/JSON: 32 and 16 hex digits). Protobuf's default JSON
writer emits base64 instead; such an id is accepted only when it decodes to exactly 16 (trace)
or 8 (span) bytes, and is then written as the same hex, so a span has one request_id however
it was exported. Any other id is refused, naming the encoding seen.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard

from nexusctl.errors import TrafficError
from nexusctl.traffic._coerce import python_array
from nexusctl.traffic.importers._raw import RawTraffic, parse_json, parse_json_lines, read_text
from nexusctl.traffic.schema import IMPORT_DEFAULTS, TRAFFIC

INFERENCE_OPERATIONS = ("chat", "text_completion", "generate_content")

#: Canonical column <- OTel attributes, first present wins (deprecated aliases last).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "request_id": ("nexus.request_id",),
    "tenant": ("nexus.tenant", "nexus.tenant.id"),
    "app": ("nexus.app",),
    "use_case": ("nexus.use_case",),
    "data_class": ("nexus.data_class",),
    "residency_class": ("nexus.residency_class",),
    "risk_class": ("nexus.risk_class",),
    "capabilities": ("nexus.capabilities",),
    "complexity": ("nexus.complexity",),
    "confidence": ("nexus.confidence",),
    "observed_cost_micro_usd": ("nexus.cost_micro_usd", "nexus.cost.usd_micros"),
    "observed_model": ("gen_ai.response.model", "gen_ai.request.model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens",),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",),
    "small_model_correct": ("nexus.small_model_correct",),
    "large_model_correct": ("nexus.large_model_correct",),
    "observed_provider": ("gen_ai.provider.name", "gen_ai.system"),
    "observed_response_id": ("gen_ai.response.id",),
    "observed_finish_reasons": ("gen_ai.response.finish_reasons",),
    "service_name": ("service.name",),
}
#: Bytes of a trace id and a span id (OTLP, W3C Trace Context).
ID_BYTES = {"traceId": 16, "spanId": 8}
OUTPUT_ATTRIBUTES = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")


def any_value(value: Any) -> Any:
    """Decode an OTLP JSON ``AnyValue`` (intValue arrives as a JSON string: int64)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        raw = value["intValue"]
        # An int64 has at most 19 digits; longer text is left as text (and reported).
        if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,20}\s*", raw):
            return int(raw)
        return raw
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") or []
        return [any_value(v) for v in items]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values") or [])
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    """Decode an OTLP ``[{key, value}]`` attribute list into a dict."""
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                out[item["key"]] = any_value(item.get("value"))
    return out


def _documents(path: Path, text: str) -> list[Any]:
    """One export document, or JSON Lines of them (the OTLP file exporter's output)."""
    import json

    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            values, lines, errors = parse_json_lines(text)
            if errors:
                row = min(errors)
                raise TrafficError(f"{path}:{lines[row]}: {errors[row]}") from None
            return values
    except (ValueError, RecursionError):
        pass
    return [parse_json(path, text)]


def _nanos(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 20:
        return int(value)
    return None


def _is_inference(attrs: dict[str, Any]) -> bool:
    operation = attrs.get("gen_ai.operation.name")
    if operation is None:
        return "gen_ai.usage.input_tokens" in attrs or "gen_ai.usage.prompt_tokens" in attrs
    return operation in INFERENCE_OPERATIONS


def read_otel(path: Path) -> Iterator[RawTraffic]:
    """Read OTLP JSON spans (one document, bounded in size) as one chunk of raw columns.

    Raises:
        TrafficError: not JSON, not an OTLP trace export.
    """
    docs = _documents(path, read_text(path))
    records: list[dict[str, Any]] = []
    locators: list[str] = []
    row_problems: list[tuple[int, str, str]] = []
    total = ignored = 0
    schema_urls: set[str] = set()
    for doc in docs:
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
            raise TrafficError(f"{path}: not an OTLP JSON trace export (no 'resourceSpans' list)")
        for resource_spans in doc["resourceSpans"]:
            if not isinstance(resource_spans, dict):
                continue
            resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
            if resource_spans.get("schemaUrl"):
                schema_urls.add(str(resource_spans["schemaUrl"]))
            for scope_spans in resource_spans.get("scopeSpans") or []:
                if not isinstance(scope_spans, dict):
                    continue
                if scope_spans.get("schemaUrl"):
                    schema_urls.add(str(scope_spans["schemaUrl"]))
                for span in scope_spans.get("spans") or []:
                    total += 1
                    if not isinstance(span, dict):
                        ignored += 1
                        continue
                    attrs = {**resource, **attributes(span.get("attributes"))}
                    if not _is_inference(attrs):
                        ignored += 1
                        continue
                    records.append(_record(span, attrs, len(records), row_problems))
                    locators.append(f"span {span.get('traceId', '?')}/{span.get('spanId', '?')}")
    columns = {
        name: python_array([r.get(name) for r in records], TRAFFIC.kind(name))
        for name in (*ATTRIBUTES, "time", "observed_latency_ms", "output_tokens")
    }
    yield RawTraffic(
        columns=columns,
        n_rows=len(records),
        lines=locators,
        defaults=dict(IMPORT_DEFAULTS),
        details={
            "format": "otlp-json",
            "spans": total,
            "inference_spans": len(records),
            "ignored_spans": ignored,
            "schema_urls": sorted(schema_urls),
        },
        row_problems=row_problems,
    )


def _record(
    span: dict[str, Any], attrs: dict[str, Any], row: int, problems: list[tuple[int, str, str]]
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column, keys in ATTRIBUTES.items():
        for key in keys:
            if attrs.get(key) is not None:
                record[column] = attrs[key]
                break
    if record.get("request_id") is None and span.get("spanId"):
        trace, trace_error = canonical_id(span.get("traceId"), "traceId")
        span_id, span_error = canonical_id(span.get("spanId"), "spanId")
        for error in (trace_error, span_error):
            if error:
                problems.append((row, "request_id", error))
        if trace is not None and span_id is not None:
            record["request_id"] = f"{trace}-{span_id}"
    start = _nanos(span.get("startTimeUnixNano"))
    end = _nanos(span.get("endTimeUnixNano"))
    if start is None:
        record["time"] = span.get("startTimeUnixNano")
        if record["time"] is None:
            problems.append((row, "time", "span has no startTimeUnixNano"))
    else:
        record["time"] = start // 1_000_000
        if end is not None:
            if end < start:
                problems.append((row, "observed_latency_ms", "endTimeUnixNano < startTimeUnixNano"))
            else:
                record["observed_latency_ms"] = (end - start) // 1_000_000
    total = next((attrs[k] for k in OUTPUT_ATTRIBUTES if attrs.get(k) is not None), None)
    reasoning = record.get("reasoning_tokens")
    if _is_int(total) and _is_int(reasoning):
        # OTel output tokens include reasoning tokens; the canonical table keeps them apart.
        if reasoning > total:
            problems.append(
                (
                    row,
                    "reasoning_tokens",
                    f"gen_ai.usage.reasoning.output_tokens {reasoning} exceeds "
                    f"gen_ai.usage.output_tokens {total}",
                )
            )
            total = reasoning
        total = total - reasoning
    record["output_tokens"] = total
    return record


def canonical_id(value: Any, field: str) -> tuple[str | None, str | None]:
    """An OTLP JSON trace or span id as lowercase hex: (hex, None) or (None, why not).

    Hex is what the OTLP/JSON spec requires; base64 (protobuf's default JSON mapping for
    bytes) is accepted only when it decodes to the id's exact length.
    """
    size = ID_BYTES[field]
    if not isinstance(value, str) or not value:
        return None, f"{field} is missing or not a string"
    if re.fullmatch(rf"[0-9a-fA-F]{{{2 * size}}}", value):
        return value.lower(), None
    seen = "neither hex nor base64"
    if re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            seen = "not valid base64 either"
        else:
            if len(raw) == size:
                return raw.hex(), None
            seen = f"base64 of {len(raw)} byte(s)"
    return None, (
        f"{field} {value[:64]!r} is neither {2 * size} hex digits (OTLP JSON) nor base64 of "
        f"{size} bytes (protobuf JSON): {seen}"
    )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
