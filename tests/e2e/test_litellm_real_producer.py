"""LiteLLM's own callback payloads (``StandardLoggingPayload``) into ``litellm-payload``.

Real producer, no network: ``litellm.completion`` and a ``litellm.Router`` with
``mock_response`` (LiteLLM's documented way to exercise its full logging path offline), and a
``CustomLogger`` capturing ``kwargs["standard_logging_object"]`` exactly as the S3, GCS and
generic loggers receive it. Every imported value is checked against the payload LiteLLM built.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from nexusctl.traffic.importers import ImportOptions, build_traffic

KEY = b"k" * 32
AZURE = {
    "api_key": "test-key",
    "api_base": "https://nebula-eu.openai.azure.com/",
    "api_version": "2024-10-21",
}


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price map
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    payloads: list[dict[str, Any]] = []

    class Capture(CustomLogger):
        # LiteLLM calls this with keyword arguments: the parameter names are its API.
        def log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            payloads.append(kwargs["standard_logging_object"])

    monkeypatch.setattr(litellm, "callbacks", [Capture()])
    messages = [{"role": "user", "content": "What is my balance?"}]
    usage = litellm.Usage(
        prompt_tokens=100,
        completion_tokens=50,
        total_tokens=150,
        prompt_tokens_details={"cached_tokens": 40},
        completion_tokens_details={"reasoning_tokens": 10},
    )
    reply = litellm.ModelResponse(
        model="gpt-4o-mini",
        choices=[{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        usage=usage,
    )
    router = litellm.Router(
        model_list=[
            {
                "model_name": "gpt-4o-mini",
                "litellm_params": {"model": "azure/eu/gpt-4o-mini", **AZURE},
                "model_info": {"id": "dep-eu-1"},
            }
        ]
    )
    router.completion(
        model="gpt-4o-mini",
        messages=messages,
        mock_response=reply,
        metadata={
            "user_api_key_team_alias": "Retail Banking",
            "user_api_key_user_id": "alice",
            "user_api_key_end_user_id": "customer-42",
            "tags": ["app:mobile-chat", "data_class:public", "residency:eu", "risk:low"],
        },
    )
    litellm.completion(
        model="azure/eu/gpt-4o-mini",
        messages=messages,
        mock_response="Your balance is shown in the app.",
        metadata={"user_api_key_team_alias": "Retail Banking", "tags": ["app:ivr"]},
        **AZURE,
    )
    deadline = time.monotonic() + 30
    while len(payloads) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # success callbacks may run on LiteLLM's logging thread
    assert len(payloads) == 2
    # The two success callbacks may arrive in either order (LiteLLM logs on a worker thread):
    # the Router's call is the one with a model group; put it first.
    payloads.sort(key=lambda payload: not payload["model_group"])
    return payloads


def _ms(seconds: float) -> int:
    micros = (Decimal(repr(seconds)) * 1_000_000).to_integral_value(rounding=ROUND_FLOOR)
    return int(micros)


def _micro_usd(cost: float) -> int:
    return int((Decimal(repr(cost)) * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))


@pytest.mark.slow
def test_litellm_callback_payloads_import_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads = _capture(monkeypatch)
    src = tmp_path / "payloads.jsonl"
    # What the bucket loggers write: one JSON document per payload.
    src.write_text("".join(json.dumps(p, default=str) + "\n" for p in payloads), "utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrafficEnrichment\n"
        "metadata: {name: rest, version: 1}\nspec:\n  seed: 1\n  attributes:\n"
        "    dataClass: {constant: internal}\n    residencyClass: {constant: eu}\n"
        "    riskClass: {constant: low}\n    complexity: {constant: 0.3}\n",
        encoding="utf-8",
    )
    table, meta, problems = build_traffic(
        "litellm-payload", src, ImportOptions(hash_key=KEY, enrich=spec)
    )
    assert problems.items == []
    rows = table.to_pylist()
    for payload, row in zip(payloads, rows, strict=True):
        start_us, end_us = _ms(payload["startTime"]), _ms(payload["endTime"])
        assert row["request_id"] == payload["id"]
        assert int(row["time"].timestamp() * 1000) == start_us // 1000
        assert row["observed_latency_ms"] == (end_us - start_us) // 1000
        assert row["observed_cost_micro_usd"] == _micro_usd(payload["response_cost"])
        assert row["observed_provider"] == payload["custom_llm_provider"] == "azure"
        assert row["observed_model"] == "eu/gpt-4o-mini"  # with or without the Router's prefix
        assert row["observed_status"] == payload["status"] == "success"
        assert row["session_id"] == payload["trace_id"]
        assert row["input_tokens"] == payload["prompt_tokens"]
        assert row["tenant"] == "retail-banking"
    routed, direct = rows
    assert routed["observed_model_group"] == "gpt-4o-mini"
    assert routed["observed_deployment_id"] == "dep-eu-1"
    assert (routed["cached_input_tokens"], routed["output_tokens"]) == (40, 40)
    assert routed["reasoning_tokens"] == 10
    assert routed["unreported_tokens"] is None
    assert (routed["app"], routed["data_class"]) == ("mobile-chat", "public")  # tags win
    assert routed["end_user_hmac"] == hmac.new(KEY, b"customer-42", hashlib.sha256).hexdigest()
    assert routed["user_hmac"] == hmac.new(KEY, b"alice", hashlib.sha256).hexdigest()
    assert direct["observed_model_group"] is None  # no Router: LiteLLM logs ""
    assert direct["output_tokens"] == payloads[1]["completion_tokens"]
    assert direct["app"] == "ivr"
    assert direct["end_user_hmac"] is None
    # The mock reply carries no usage details: not reported, not a silent 0.
    assert direct["unreported_tokens"] == ["cached_input_tokens", "reasoning_tokens"]
    assert meta["not_reported"]["cached_input_tokens"]["rows"] == 1
