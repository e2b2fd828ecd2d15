"""Quality labels joined from a labelled set: was the small model right, was the large one?

``routellm-gsm8k``: RouteLLM's GSM8K responses (Apache-2.0, lm-sys/RouteLLM,
``routellm/evals/gsm8k/``; Ong et al., "RouteLLM: Learning to Route LLMs with Preference
Data", 2024). One row per prompt; the columns named after the weak model (Mixtral-8x7B) and
the strong model (GPT-4-1106) hold ``True``/``False`` correctness. Traffic row i (0-based, in
source order, before any invalid row is skipped) takes the labels of prompt ``i mod N``: a
deterministic cycle, so the label mix of any long enough slice matches the set's.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl.errors import TrafficError, UsageError
from nexusctl.files import sha256_file
from nexusctl.traffic.importers._raw import check_utf8, open_check

FORMATS = ("routellm-gsm8k",)
SMALL_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
LARGE_MODEL = "gpt-4-1106-preview"
_BOOLS = {"True": True, "False": False, "true": True, "false": False}


@dataclass(frozen=True)
class QualityLabels:
    """Per-prompt correctness of the small and the large model, and the metadata record."""

    small: Any  # numpy bool array, one per prompt
    large: Any
    record: dict[str, Any]

    def for_rows(self, n: int, offset: int = 0) -> tuple[Any, Any]:
        """Labels for traffic rows offset..offset+n-1 (0-based): row i takes prompt i mod N."""
        import numpy as np

        index = np.arange(offset, offset + n, dtype=np.int64) % len(self.small)
        return self.small[index], self.large[index]


def load_quality(path: Path, fmt: str) -> QualityLabels:
    """Load a labelled set.

    Raises:
        UsageError: unknown format.
        TrafficError: the file lacks the expected columns or holds a non-boolean label.
    """
    import numpy as np

    if fmt not in FORMATS:
        raise UsageError(f"unknown quality format {fmt!r}", hint="formats: " + ", ".join(FORMATS))
    open_check(path)
    check_utf8(path)
    small: list[bool] = []
    large: list[bool] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        for needed in ("prompt", SMALL_MODEL, LARGE_MODEL):
            if needed not in fields:
                raise TrafficError(
                    f"{path}:1: missing column {needed!r} for --quality-format {fmt}",
                    hint=f"expected columns: prompt, {SMALL_MODEL}, {LARGE_MODEL}",
                )
        for record in reader:
            for column, out in ((SMALL_MODEL, small), (LARGE_MODEL, large)):
                value = record.get(column)
                if value not in _BOOLS:
                    raise TrafficError(
                        f"{path}:{reader.line_num}: {column}: expected True or False, got {value!r}"
                    )
                out.append(_BOOLS[value])
    if not small:
        raise TrafficError(f"{path}: no labelled prompts")
    small_np = np.array(small, dtype=bool)
    large_np = np.array(large, dtype=bool)
    record = {
        "format": fmt,
        "file": path.name,
        "sha256": sha256_file(path, what="quality labels"),
        "prompts": len(small),
        "small_model": SMALL_MODEL,
        "large_model": LARGE_MODEL,
        "small_accuracy": round(float(small_np.mean()), 6),
        "large_accuracy": round(float(large_np.mean()), 6),
        "assignment": "source row i -> prompt i mod prompts",
        "source": "lm-sys/RouteLLM routellm/evals/gsm8k (Apache-2.0)",
    }
    return QualityLabels(small_np, large_np, record)
