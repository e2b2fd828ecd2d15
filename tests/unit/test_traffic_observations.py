"""Issue 15: unreported tokens, callback payloads, provider-qualified models, OTLP ids, hints."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nexusctl.errors import TrafficError
from nexusctl.traffic.importers import ImportOptions, build_traffic, import_traffic
from nexusctl.traffic.importers.otel import canonical_id
from nexusctl.traffic.inspect import inspect_traffic, render_text

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "traffic"
KEY = b"test-key-0123456789abcdef0123456789abcdef"


def _mac(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def test_otel_tokens_not_reported_are_flagged_not_silent() -> None:
    table, meta, _ = build_traffic("otel", ASSETS / "otel_spans.json", ImportOptions())
    rows = table.to_pylist()
    # The first span reports cached tokens but no reasoning; the second reasoning, no cache.
    assert rows[0]["unreported_tokens"] == ["reasoning_tokens"]
    assert rows[1]["unreported_tokens"] == ["cached_input_tokens"]
    assert rows[2]["unreported_tokens"] == ["cached_input_tokens", "reasoning_tokens"]
    assert (rows[2]["cached_input_tokens"], rows[2]["reasoning_tokens"]) == (0, 0)
    assert meta["not_reported"] == {
        "cached_input_tokens": {"rows": 2, "share": 0.666667, "resolved_as": 0},
        "reasoning_tokens": {"rows": 2, "share": 0.666667, "resolved_as": 0},
    }


def test_import_warns_with_the_field_and_share(tmp_path: Path) -> None:
    result = import_traffic(
        "otel", ASSETS / "otel_spans.json", tmp_path / "t.parquet", ImportOptions()
    )
    assert len(result.warnings) == 2
    assert "cached_input_tokens not reported for 2 of 3 row(s) (66.7%)" in result.warnings[0]
    assert "reasoning_tokens not reported for 2 of 3 row(s) (66.7%)" in result.warnings[1]
    summary = inspect_traffic(tmp_path / "t.parquet")
    assert summary["unreported_tokens"]["cached_input_tokens"] == {"rows": 2, "share": 0.666667}
    assert summary["metadata"]["not_reported"]["reasoning_tokens"]["rows"] == 2
    assert "unreported cached_input_tokens 2 (66.7%, resolved as 0)" in render_text(summary)


def test_a_declared_cached_share_is_not_flagged(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrafficEnrichment\n"
        "metadata: {name: cache, version: 1}\n"
        "spec:\n  seed: 1\n  attributes:\n    cachedShare: {constant: 0.5}\n",
        encoding="utf-8",
    )
    table, meta, _ = build_traffic("otel", ASSETS / "otel_spans.json", ImportOptions(enrich=spec))
    rows = table.to_pylist()
    assert rows[2]["cached_input_tokens"] == 3180 // 2
    assert rows[2]["unreported_tokens"] == ["reasoning_tokens"]
    assert "cached_input_tokens" not in meta["not_reported"]


def test_fully_reported_rows_have_no_flag() -> None:
    table, meta, _ = build_traffic(
        "litellm-payload", ASSETS / "litellm_payload.jsonl", ImportOptions(hash_key=KEY)
    )
    assert table.column("unreported_tokens").to_pylist() == [
        None,
        ["cached_input_tokens", "reasoning_tokens"],
    ]
    assert meta["not_reported"]["cached_input_tokens"] == {
        "rows": 1,
        "share": 0.5,
        "resolved_as": 0,
    }


def test_litellm_payload_imports_every_value_exactly() -> None:
    table, meta, problems = build_traffic(
        "litellm-payload", ASSETS / "litellm_payload.jsonl", ImportOptions(hash_key=KEY)
    )
    assert problems.items == []
    assert meta["import"]["format"] == "litellm-standard-logging-payload"
    first, second = table.to_pylist()
    assert first["request_id"] == "chatcmpl-7c1d6f3e-1"
    assert first["time"] == dt.datetime(2026, 1, 5, 9, 0, 0, 125000, tzinfo=dt.UTC)
    assert first["observed_latency_ms"] == 1253  # 1.3789 - 0.125749 s, exact, floored
    assert first["observed_cost_micro_usd"] == 123  # Decimal("0.000123") * 10^6
    assert (
        first["input_tokens"],
        first["cached_input_tokens"],
        first["output_tokens"],
        first["reasoning_tokens"],
    ) == (100, 40, 40, 20)
    assert (first["tenant"], first["app"], first["use_case"]) == (
        "retail-banking",
        "mobile-chat",
        "faq",
    )
    assert (first["observed_provider"], first["observed_model"]) == ("azure", "eu/gpt-4o-mini")
    assert first["observed_model_group"] == "gpt-4o-mini"
    assert first["observed_deployment_id"] == "dep-eu-1"
    assert first["observed_api_base"] == "https://nebula-eu.openai.azure.com/"
    assert (first["observed_status"], first["observed_cache_hit"]) == ("success", False)
    assert first["session_id"] == "9a1b2c3d-sess-1"
    assert first["end_user_hmac"] == _mac("customer-42")
    assert first["user_hmac"] == _mac("alice@nebula.example")
    assert second["observed_cost_micro_usd"] == 11  # 1.1e-05 USD
    assert second["observed_latency_ms"] == 0
    assert second["observed_deployment_id"] == "dep-openai-1"  # from hidden_params
    assert second["observed_api_base"] == "https://api.example.test/v1"
    assert second["observed_cache_hit"] is True
    assert (second["end_user_hmac"], second["user_hmac"]) == (None, None)
    assert second["use_case"] == "general"


def test_user_ids_without_a_key_are_dropped_and_counted(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    result = import_traffic(
        "litellm-payload", ASSETS / "litellm_payload.jsonl", out, ImportOptions()
    )
    assert result.metadata["import"]["user_ids_dropped"] == 2
    assert any("dropped 2 end_user/user identifier(s)" in w for w in result.warnings)
    raw = out.read_bytes()
    assert b"customer-42" not in raw
    assert b"alice@nebula.example" not in raw
    table = pq.read_table(out)
    assert table.column("end_user_hmac").null_count == 2


def test_spend_log_reader_names_the_payload_format(tmp_path: Path) -> None:
    with pytest.raises(TrafficError) as caught:
        build_traffic("litellm", ASSETS / "litellm_payload.jsonl", ImportOptions())
    assert "StandardLoggingPayload" in str(caught.value)
    assert "litellm-payload" in (caught.value.hint or "")


def test_spend_logs_keep_provider_group_and_hashed_users(tmp_path: Path) -> None:
    src = tmp_path / "spend.json"
    rows = json.loads((ASSETS / "litellm_spend.json").read_text(encoding="utf-8"))
    rows[0].update(
        custom_llm_provider="azure",
        model="eu/gpt-4o-mini",
        model_group="gpt-4o-mini",
        model_id="dep-eu-1",
        api_base="https://nebula-eu.openai.azure.com/",
        status="success",
        cache_hit="False",
        session_id="s-1",
        end_user="customer-42",
        user="alice",
    )
    src.write_text(json.dumps(rows), encoding="utf-8")
    table, _, _ = build_traffic("litellm", src, ImportOptions(hash_key=KEY))
    first = table.to_pylist()[0]
    assert (first["observed_provider"], first["observed_model"]) == ("azure", "eu/gpt-4o-mini")
    assert (first["observed_model_group"], first["observed_deployment_id"]) == (
        "gpt-4o-mini",
        "dep-eu-1",
    )
    assert (first["observed_status"], first["observed_cache_hit"]) == ("success", False)
    assert first["session_id"] == "s-1"
    assert (first["end_user_hmac"], first["user_hmac"]) == (_mac("customer-42"), _mac("alice"))


def test_otel_keeps_provider_response_and_service() -> None:
    table, _, _ = build_traffic("otel", ASSETS / "otel_spans.json", ImportOptions())
    first = table.to_pylist()[0]
    assert first["observed_provider"] == "azure.ai.openai"
    assert first["service_name"] == "retail-chat-gateway"


def _span_doc(trace_id: str, span_id: str, nexus: bool = True) -> dict[str, object]:
    def attr(key: str, value: str) -> dict[str, object]:
        return {"key": key, "value": {"stringValue": value}}

    attributes = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        attr("gen_ai.provider.name", "openai"),
        attr("gen_ai.request.model", "gpt-4o-mini"),
        attr("gen_ai.response.id", "chatcmpl-abc"),
        {
            "key": "gen_ai.response.finish_reasons",
            "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}},
        },
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "5"}},
    ]
    if nexus:
        for key, value in (
            ("nexus.tenant", "retail"),
            ("nexus.app", "chat"),
            ("nexus.data_class", "public"),
            ("nexus.residency_class", "eu"),
            ("nexus.risk_class", "low"),
            ("nexus.complexity", "0.5"),
        ):
            attributes.append(attr(key, value))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "svc")]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "startTimeUnixNano": "1767603600000000000",
                                "endTimeUnixNano": "1767603600500000000",
                                "attributes": attributes,
                            }
                        ]
                    }
                ],
            }
        ]
    }


TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _import_doc(tmp_path: Path, doc: object, **options: object) -> list[dict[str, object]]:
    src = tmp_path / "spans.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    table, _, _ = build_traffic("otel", src, ImportOptions(**options))
    return table.to_pylist()


def test_otlp_base64_ids_give_the_same_request_id_as_hex(tmp_path: Path) -> None:
    hex_rows = _import_doc(tmp_path, _span_doc(TRACE_HEX, SPAN_HEX))
    b64_rows = _import_doc(tmp_path, _span_doc(_b64(TRACE_HEX), _b64(SPAN_HEX)))
    upper_rows = _import_doc(tmp_path, _span_doc(TRACE_HEX.upper(), SPAN_HEX.upper()))
    expected = f"{TRACE_HEX}-{SPAN_HEX}"
    assert hex_rows[0]["request_id"] == b64_rows[0]["request_id"] == expected
    assert upper_rows[0]["request_id"] == expected
    row = hex_rows[0]
    assert row["observed_response_id"] == "chatcmpl-abc"
    assert row["observed_finish_reasons"] == ["stop"]
    assert row["service_name"] == "svc"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("spanId", base64.b64encode(b"0123456789").decode(), "base64 of 10 byte(s)"),
        ("traceId", "abc", "neither 32 hex digits (OTLP JSON) nor base64 of 16 bytes"),
        ("spanId", "eee19b7ec3c1b17", "neither 16 hex digits"),
        ("traceId", "not base64 at all!", "neither 32 hex digits"),
    ],
)
def test_otlp_ids_of_another_length_or_encoding_are_refused(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    doc = _span_doc(TRACE_HEX, SPAN_HEX)
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span[field] = value
    with pytest.raises(TrafficError) as caught:
        _import_doc(tmp_path, doc)
    assert message in str(caught.value)


def test_canonical_id_accepts_only_exact_lengths() -> None:
    assert canonical_id(_b64(SPAN_HEX), "spanId") == (SPAN_HEX, None)
    assert canonical_id(_b64(TRACE_HEX), "spanId")[0] is None
    assert canonical_id(None, "traceId")[0] is None


def test_spans_without_nexus_attributes_hint_at_a_spec_that_works(tmp_path: Path) -> None:
    doc = _span_doc(TRACE_HEX, SPAN_HEX, nexus=False)
    with pytest.raises(TrafficError) as caught:
        _import_doc(tmp_path, doc)
    hint = caught.value.hint or ""
    assert "--enrich" in hint
    assert "skip-invalid" not in hint
    spec_text = hint[hint.index("apiVersion:") :]
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text + "\n", encoding="utf-8")
    rows = _import_doc(tmp_path, copy.deepcopy(doc), enrich=spec)
    assert (rows[0]["tenant"], rows[0]["data_class"], rows[0]["complexity"]) == (
        "default",
        "internal",
        0.5,
    )


def test_reimporting_a_flagged_file_keeps_its_flags(tmp_path: Path) -> None:
    first = tmp_path / "first.parquet"
    import_traffic("otel", ASSETS / "otel_spans.json", first, ImportOptions())
    again = import_traffic("canonical", first, tmp_path / "again.parquet", ImportOptions())
    assert again.metadata["not_reported"] == {
        "cached_input_tokens": {"rows": 2, "share": 0.666667, "resolved_as": 0},
        "reasoning_tokens": {"rows": 2, "share": 0.666667, "resolved_as": 0},
    }
    flags = pq.read_table(tmp_path / "again.parquet").column("unreported_tokens").to_pylist()
    assert flags == pq.read_table(first).column("unreported_tokens").to_pylist()
