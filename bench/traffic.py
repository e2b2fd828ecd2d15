"""Speed and memory of recorded-traffic generation, import and inspection.

Prints: ``traffic synth`` of 1M rows (in-memory table and to Parquet), peak RSS of a 10M-row
synth to Parquet in a subprocess (bounded batches: should match the 1M figure), the import of
the real Azure trace with enrichment and labels, the canonical re-import and validation of
1M rows, and ``traffic inspect`` over 1M rows.

    .venv/bin/python bench/traffic.py [--rows N] [--big-rows N]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def timed(label: str, fn):
    start = time.perf_counter()
    value = fn()
    print(f"{label:<52} {time.perf_counter() - start:8.3f} s")
    return value


def peak_rss_of(code: str) -> float:
    """Run ``code`` in a fresh interpreter; return its peak RSS in MiB."""
    script = code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    args = parser.parse_args()

    from nexusctl.traffic.importers import ImportOptions, import_traffic
    from nexusctl.traffic.inspect import inspect_traffic
    from nexusctl.traffic.synth import synth_table, write_synth

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        synth = tmp / "synth.parquet"
        timed(f"synth_table({args.rows:,}) in memory", lambda: synth_table(args.rows, 1))
        timed(
            f"traffic synth {args.rows:,} rows -> Parquet", lambda: write_synth(synth, args.rows, 1)
        )
        for rows in (args.rows, args.big_rows):
            code = (
                "from pathlib import Path; from nexusctl.traffic.synth import write_synth; "
                f"write_synth(Path({str(tmp / 'big.parquet')!r}), {rows}, 1)"
            )
            start = time.perf_counter()
            mib = peak_rss_of(code)
            print(
                f"{f'traffic synth {rows:,} rows (subprocess)':<52} "
                f"{time.perf_counter() - start:8.3f} s  peak RSS {mib:,.0f} MiB"
            )
        timed(
            f"import canonical Parquet {args.rows:,} rows (validate)",
            lambda: import_traffic("canonical", synth, tmp / "again.parquet", ImportOptions()),
        )
        timed(f"traffic inspect {args.rows:,} rows (DuckDB)", lambda: inspect_traffic(synth))
        trace = DATA / "traces" / "azure_llm_inference_code_2023.csv"
        if trace.is_file():
            options = ImportOptions(
                enrich=REPO / "policies" / "nebula" / "enrichment" / "azure-code.yaml",
                quality=DATA / "quality" / "routellm_gsm8k_responses.csv",
            )
            timed(
                "import azure trace (8,819 rows) + enrich + labels",
                lambda: import_traffic("azure", trace, tmp / "azure.parquet", options),
            )
        else:
            print(f"shared data not found at {DATA}; Azure import not measured")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak RSS of this process':<52} {peak:8,.0f} MiB")


if __name__ == "__main__":
    main()
