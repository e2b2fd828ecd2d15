"""The real Azure code trace, imported with the example enrichment and RouteLLM GSM8K labels."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from nexusctl.traffic.importers import ImportOptions, import_traffic
from nexusctl.traffic.inspect import inspect_traffic

ENRICH = (
    Path(__file__).resolve().parents[2] / "policies" / "nebula" / "enrichment" / "azure-code.yaml"
)


def test_real_azure_trace_imports_exactly(tmp_path: Path, shared_data: Path) -> None:
    trace = shared_data / "traces" / "azure_llm_inference_code_2023.csv"
    labels = shared_data / "quality" / "routellm_gsm8k_responses.csv"
    out = tmp_path / "azure-code.parquet"
    result = import_traffic("azure", trace, out, ImportOptions(enrich=ENRICH, quality=labels))
    with trace.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    assert result.rows == len(raw) == 8819
    assert result.skipped == 0
    table = pq.read_table(out)
    assert table.column("request_id")[0].as_py() == "azure-code-1"
    assert table.column("request_id")[-1].as_py() == "azure-code-8819"
    # Token counts are carried over exactly; timestamps are the trace's, truncated to the ms.
    assert pc.sum(table.column("input_tokens")).as_py() == sum(int(r["ContextTokens"]) for r in raw)
    assert pc.sum(table.column("output_tokens")).as_py() == sum(
        int(r["GeneratedTokens"]) for r in raw
    )
    last = dt.datetime.fromisoformat(raw[-1]["TIMESTAMP"][:23]).replace(tzinfo=dt.UTC)
    assert table.column("time")[-1].as_py() == last
    meta = json.loads(pq.read_schema(out).metadata[b"nexusctl.traffic"])
    assert meta["quality"]["prompts"] == 1319
    assert meta["enrichment"]["spec"]["spec"]["seed"] == 20231116
    summary = inspect_traffic(out)
    assert summary["rows"] == 8819
    assert summary["mix"]["tenant"]["top"] == [{"value": "engineering", "count": 8819}]
    assert summary["tokens"]["input_tokens"]["max"] == 7437
    # 8819 rows cycle the 1319 prompts: accuracy stays near the set's (63.8 % / 85.7 %).
    assert abs(summary["quality"]["small_accuracy"] - 0.638) < 0.01
    assert abs(summary["quality"]["large_accuracy"] - 0.857) < 0.01
