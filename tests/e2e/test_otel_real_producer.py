"""The official OpenTelemetry OpenAI instrumentation, exporting over OTLP/HTTP, into ``otel``.

Real producers, fake network only: the ``openai`` client calls a fake OpenAI-compatible server
on 127.0.0.1; ``opentelemetry-instrumentation-openai-v2`` records the chat span; the SDK's
OTLP/HTTP exporter posts it to a receiver on 127.0.0.1, which keeps the protobuf request. The
test writes it both as protobuf's default JSON (base64 ids) and as OTLP/JSON (hex ids) and
checks every imported value against what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from nexusctl.traffic.importers import ImportOptions, build_traffic
from tests.local_http import serve_local

COMPLETION = {
    "id": "chatcmpl-real-0001",
    "object": "chat.completion",
    "created": 1767603600,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Your balance is shown in the app."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
}


class _FakeOpenAI(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append((self.path, data))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def openai_url() -> Iterator[str]:
    with serve_local(_FakeOpenAI) as url:
        yield url


@pytest.fixture
def otlp_url() -> Iterator[str]:
    _Receiver.received = []
    with serve_local(_Receiver) as url:
        yield url


def _produce(openai_url: str, otlp_url: str) -> bytes:
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create(
        {
            "service.name": "nebula-chat",
            "nexus.tenant": "retail-banking",
            "nexus.app": "mobile-chat",
            "nexus.data_class": "public",
            "nexus.residency_class": "eu",
            "nexus.risk_class": "low",
            "nexus.complexity": 0.25,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_url}/v1/traces"))
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=f"{openai_url}/v1", api_key="test-key", max_retries=0)
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "What is my balance?"}]
        )
        client.close()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    posts = [data for path, data in _Receiver.received if path == "/v1/traces"]
    assert len(posts) == 1
    return posts[0]


def test_official_openai_instrumentation_imports_exactly(
    tmp_path: Path, openai_url: str, otlp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    request = ExportTraceServiceRequest()
    request.ParseFromString(_produce(openai_url, otlp_url))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    expected_id = f"{span.trace_id.hex()}-{span.span_id.hex()}"

    # Protobuf's default JSON mapping: bytes as base64 (what a naive collector dump gives).
    protobuf_json = json.loads(MessageToJson(request))
    pb_span = protobuf_json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert pb_span["traceId"] != span.trace_id.hex()  # really base64
    # OTLP/JSON as the specification writes it: the same document with hex ids.
    otlp_json = json.loads(json.dumps(protobuf_json))
    hex_span = otlp_json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    hex_span["traceId"], hex_span["spanId"] = span.trace_id.hex(), span.span_id.hex()

    rows = []
    for name, doc in (("protobuf.json", protobuf_json), ("otlp.json", otlp_json)):
        src = tmp_path / name
        src.write_text(json.dumps(doc), encoding="utf-8")
        table, meta, problems = build_traffic("otel", src, ImportOptions())
        assert problems.items == []
        assert meta["import"]["inference_spans"] == 1
        assert meta["not_reported"] == {
            "cached_input_tokens": {"rows": 1, "share": 1.0, "resolved_as": 0},
            "reasoning_tokens": {"rows": 1, "share": 1.0, "resolved_as": 0},
        }
        rows.append(table.to_pylist()[0])
    assert rows[0] == rows[1]
    row = rows[0]
    assert row["request_id"] == expected_id
    assert (row["input_tokens"], row["output_tokens"]) == (42, 7)
    assert (row["cached_input_tokens"], row["reasoning_tokens"]) == (0, 0)
    assert row["unreported_tokens"] == ["cached_input_tokens", "reasoning_tokens"]
    assert row["observed_model"] == "gpt-4o-mini-2024-07-18"
    assert row["observed_provider"] == "openai"
    assert row["observed_response_id"] == "chatcmpl-real-0001"
    assert row["observed_finish_reasons"] == ["stop"]
    assert row["service_name"] == "nebula-chat"
    assert (row["tenant"], row["app"], row["complexity"]) == ("retail-banking", "mobile-chat", 0.25)
    start_ms = span.start_time_unix_nano // 1_000_000
    assert int(row["time"].timestamp() * 1000) == start_ms
    latency = (span.end_time_unix_nano - span.start_time_unix_nano) // 1_000_000
    assert row["observed_latency_ms"] == latency
