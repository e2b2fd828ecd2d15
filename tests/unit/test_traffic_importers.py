"""Each importer's mapping onto the canonical table, on the fixtures in tests/assets/traffic."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexusctl.errors import TrafficError
from nexusctl.traffic.importers import ImportOptions, build_traffic, import_traffic
from nexusctl.traffic.importers.azure import workload_name
from nexusctl.traffic.importers.litellm import _micro_usd, slug
from nexusctl.traffic.importers.otel import any_value
from nexusctl.traffic.schema import traffic_schema

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "traffic"
ENRICH = (
    Path(__file__).resolve().parents[2] / "policies" / "nebula" / "enrichment" / "azure-code.yaml"
)


def _rows(fmt: str, name: str, **options: object) -> list[dict[str, object]]:
    table, _, _ = build_traffic(fmt, ASSETS / name, ImportOptions(**options))
    assert table.schema.equals(traffic_schema())
    return table.to_pylist()


def _utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def test_litellm_csv_rows_may_carry_prompts_of_megabytes(tmp_path: Path) -> None:
    # Spend logs can store the prompt and response: their CSV is read in 4 MiB blocks, where
    # canonical CSV (rows of a few hundred bytes) uses 1 MiB.
    header, *lines = (ASSETS / "litellm_spend.csv").read_text().splitlines()
    big = "x" * (5 << 19)  # 2.5 MiB
    src = tmp_path / "spend.csv"
    src.write_text("\n".join([header + ",messages", *(line + "," + big for line in lines)]) + "\n")
    table, _, _ = build_traffic("litellm", src, ImportOptions())
    assert table.num_rows == len(lines)
    assert table.to_pylist() == _rows("litellm", "litellm_spend.csv")


def test_otel_maps_gen_ai_and_nexus_attributes() -> None:
    rows = _rows("otel", "otel_spans.json")
    assert [r["request_id"] for r in rows] == [
        "chat-0001",
        "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ]
    first = rows[0]
    assert first["time"] == _utc(2026, 1, 5, 9, 0, 0, 125000)
    assert first["observed_latency_ms"] == 812
    assert first["observed_model"] == "gpt-4o-mini-2024-07-18"  # response model wins
    assert (first["input_tokens"], first["cached_input_tokens"], first["output_tokens"]) == (
        420,
        128,
        180,
    )
    assert first["tenant"] == "retail-banking"  # from the resource
    assert first["capabilities"] == ["streaming"]
    assert first["observed_cost_micro_usd"] == 178
    second = rows[1]
    # OTel output tokens include reasoning; the canonical table keeps them apart.
    assert (second["output_tokens"], second["reasoning_tokens"]) == (350, 400)
    assert second["use_case"] == "general"  # documented default
    assert second["app"] == "statement-upload"  # span attribute overrides the resource
    legacy = rows[2]
    assert (legacy["input_tokens"], legacy["output_tokens"]) == (3180, 8)


def test_otel_metadata_counts_ignored_spans() -> None:
    _, meta, _ = build_traffic("otel", ASSETS / "otel_spans.json", ImportOptions())
    assert meta["import"]["spans"] == 6
    assert meta["import"]["inference_spans"] == 3
    assert meta["import"]["ignored_spans"] == 3


def test_otel_any_value_decodes_every_kind() -> None:
    assert any_value({"intValue": "9007199254740993"}) == 9007199254740993
    assert any_value({"intValue": 5}) == 5
    assert any_value({"doubleValue": 0.5}) == 0.5
    assert any_value({"boolValue": True}) is True
    assert any_value({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}) == [
        "a",
        1,
    ]
    assert any_value(
        {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}
    ) == {"k": "v"}


@pytest.mark.parametrize("name", ["litellm_spend.json", "litellm_spend.csv"])
def test_litellm_maps_spend_logs(name: str) -> None:
    rows = _rows("litellm", name)
    first, second, third = rows
    assert first["tenant"] == "retail-banking"  # "Retail Banking" team alias, slugged
    assert (first["app"], first["use_case"], first["residency_class"]) == (
        "mobile-chat",
        "faq",
        "eu",
    )
    assert first["observed_cost_micro_usd"] == 178
    assert first["observed_latency_ms"] == 812
    assert first["capabilities"] == ["streaming"]
    assert second["capabilities"] == ["vision", "json"]
    assert second["observed_cost_micro_usd"] == 12400
    assert third["tenant"] == "credit-risk"
    assert third["observed_cost_micro_usd"] == 100000
    assert (third["risk_class"], third["confidence"]) == ("high", 0.35)


def test_litellm_nested_usage_splits_cached_and_reasoning() -> None:
    second = _rows("litellm", "litellm_spend.json")[1]
    assert (second["input_tokens"], second["cached_input_tokens"]) == (2100, 1024)
    assert (second["output_tokens"], second["reasoning_tokens"]) == (350, 400)


@pytest.mark.parametrize(
    ("spend", "micro"),
    [(0.000178, 178), (0.1, 100_000), ("0.0000005", 0), ("0.0000015", 2), (12.345678, 12_345_678)],
)
def test_spend_to_micro_usd_is_exact(spend: object, micro: int) -> None:
    assert _micro_usd(spend, 0, []) == micro
    if isinstance(spend, float):
        assert Decimal(repr(spend)) * 1_000_000 == micro  # exact, not rounded


def test_slug_makes_identifiers() -> None:
    assert slug("  Retail Banking / EU ") == "retail-banking-eu"


def test_canonical_csv_jsonl_and_parquet_agree(tmp_path: Path) -> None:
    csv_rows = _rows("canonical", "canonical_good.csv")
    assert csv_rows[1]["capabilities"] == ["vision", "json"]
    assert csv_rows[2]["time"] == _utc(2026, 1, 5, 9, 0, 1)  # no offset = UTC
    assert csv_rows[3]["time"] == _utc(2026, 1, 5, 9, 0, 1)  # +01:00 converted
    assert csv_rows[0]["small_model_correct"] is True
    jsonl = _rows("canonical", "canonical_good.jsonl")
    assert jsonl[1]["time"] == _utc(2026, 1, 5, 9, 0, 0, 400000)  # epoch milliseconds
    assert jsonl[1]["use_case"] == "general"  # documented default
    out = tmp_path / "c.parquet"
    import_traffic("canonical", ASSETS / "canonical_good.csv", out, ImportOptions())
    back = tmp_path / "c.parquet"
    again = tmp_path / "again.parquet"
    import_traffic("canonical", back, again, ImportOptions())
    assert pq.read_table(again).to_pylist() == csv_rows


def test_azure_sample_with_enrichment() -> None:
    rows = _rows("azure", "azure_sample.csv", enrich=ENRICH)
    assert [r["request_id"] for r in rows] == [f"azure-sample-{i}" for i in range(1, 6)]
    assert rows[0]["time"] == _utc(2023, 11, 16, 18, 17, 3, 979000)  # truncated to the ms
    assert (rows[0]["input_tokens"], rows[0]["output_tokens"]) == (4808, 10)
    assert all(r["tenant"] == "engineering" for r in rows)
    assert all(0 <= r["cached_input_tokens"] <= r["input_tokens"] for r in rows)
    agents = [r for r in rows if r["use_case"] == "agent"]
    assert all("tools" in r["capabilities"] for r in agents)


def test_workload_names() -> None:
    assert workload_name(Path("azure_llm_inference_code_2023.csv")) == "code"
    assert workload_name(Path("AzureLLMInferenceTrace_conv.csv")) == "conv"


def test_azure_without_enrichment_says_so() -> None:
    with pytest.raises(TrafficError, match="enrichment spec"):
        build_traffic("azure", ASSETS / "azure_sample.csv", ImportOptions())


def test_skip_invalid_counts_and_records() -> None:
    table, meta, problems = build_traffic(
        "azure", ASSETS / "azure_bad_rows.csv", ImportOptions(enrich=ENRICH, skip_invalid=True)
    )
    assert table.num_rows == 1
    assert meta["skipped_invalid"] == 3
    assert meta["skipped_rows"] == [2, 3, 4]
    assert meta["rows_read"] == 4
    assert sorted((p.row, p.line, p.column) for p in problems.items) == [
        (2, 3, "input_tokens"),
        (3, 4, "time"),
        (4, 5, "output_tokens"),
    ]


def test_metadata_is_contract_a(tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    import_traffic("otel", ASSETS / "otel_spans.json", out, ImportOptions())
    meta = json.loads(pq.read_schema(out).metadata[b"nexusctl.traffic"])
    assert {"source", "importer", "enrichment", "quality"} <= set(meta)
    assert (meta["source"], meta["importer"], meta["enrichment"]) == (
        "otel_spans.json",
        "otel",
        None,
    )
    assert pq.read_schema(out).remove_metadata().equals(traffic_schema())
    assert pa.ipc is not None


def test_otel_json_lines_equal_one_document() -> None:
    assert _rows("otel", "otel_spans.jsonl") == _rows("otel", "otel_spans.json")
