"""The Azure public LLM inference trace: ``TIMESTAMP, ContextTokens, GeneratedTokens``.

Azure/AzurePublicDataset (CC-BY-4.0; Patel et al., "Splitwise", ISCA 2024). ``TIMESTAMP``
is ``YYYY-MM-DD HH:MM:SS.fffffff`` without an offset, read as UTC and truncated to the
millisecond. ``ContextTokens`` -> input_tokens, ``GeneratedTokens`` -> output_tokens,
reasoning_tokens = 0. ``request_id`` is ``azure-<workload>-<row>`` (1-based data row; the
workload is the file name without a leading ``azure_llm_inference_``,
``AzureLLMInferenceTrace_`` or ``azure_`` and a trailing year). Nothing else is in the
trace: an enrichment spec must supply the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from nexusctl.errors import TrafficError
from nexusctl.traffic.importers._raw import RawTraffic, iter_csv_strings
from nexusctl.traffic.schema import REQUEST_ATTRIBUTES

COLUMNS = {"TIMESTAMP": "time", "ContextTokens": "input_tokens", "GeneratedTokens": "output_tokens"}
#: Columns the trace lacks: each must come from the enrichment spec.
NEEDS_ENRICHMENT = (
    *REQUEST_ATTRIBUTES,
    "capabilities",
    "complexity",
    "cached_input_tokens",
)


def workload_name(path: Path) -> str:
    """``azure_llm_inference_code_2023.csv`` -> ``code``; other names are slugged."""
    stem = path.stem.lower()
    stem = re.sub(r"^(azure_llm_inference_|azurellminferencetrace_|azure[_-])", "", stem)
    stem = re.sub(r"_(19|20)[0-9]{2}$", "", stem)
    return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "trace"


def read_azure(path: Path) -> Iterator[RawTraffic]:
    """Stream the trace as chunks of raw canonical columns.

    Raises:
        TrafficError: not the trace's header, or unreadable CSV.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    prefix = f"azure-{workload_name(path)}-"
    seen = 0
    for batch, lines in iter_csv_strings(path):
        missing = [c for c in COLUMNS if c not in batch.schema.names]
        if missing:
            raise TrafficError(
                f"{path}:1: missing required column(s) {', '.join(missing)}",
                hint="the Azure trace format is TIMESTAMP,ContextTokens,GeneratedTokens",
            )
        n = batch.num_rows
        columns = {canonical: batch.column(source) for source, canonical in COLUMNS.items()}
        rows = pc.cast(pa.array(np.arange(seen + 1, seen + n + 1, dtype=np.int64)), pa.string())
        columns["request_id"] = pc.binary_join_element_wise(prefix, rows, "")
        seen += n
        yield RawTraffic(
            columns=columns,
            n_rows=n,
            lines=lines,
            defaults={"reasoning_tokens": 0},
            details={"format": "azure-llm-inference-trace", "time_zone_assumed": "UTC"},
        )
