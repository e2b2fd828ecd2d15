"""Speed and memory of recorded-traffic generation, import and inspection.

Prints: ``traffic synth`` of 1M rows (in-memory table and to Parquet), peak RSS of a 10M-row
synth to Parquet in a subprocess (bounded batches: should match the 1M figure), the import of
the real Azure trace with enrichment and labels, the canonical re-import and validation of
1M rows, ``traffic inspect`` over 1M rows (it validates every row first), and the streamed
imports of 1M rows of canonical CSV and JSON Lines, each in a fresh subprocess so its time
and peak RSS are its own, worker processes included (targets: <= 5 s and <= 512 MiB each;
this was 2 cores shared at load 5)::

    jsonl import 1M rows: 14.4 s (target ≤ 5 s)
    jsonl import 1M rows CPU: 8.0 s (user + system, with 1 worker process(es))
    jsonl import 1M rows peak RSS: 464 MiB (target ≤ 512 MiB; its peak plus its 1 worker(s)' peaks)
    jsonl import 1M rows blocks parsed by the importing process: 9

    .venv/bin/python bench/traffic.py [--rows N] [--big-rows N] [--only-text]
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
    """Run ``code`` in a fresh interpreter; return its peak RSS in MiB (workers included)."""
    return run_measured(code)[0]


def run_measured(code: str) -> tuple[float, float, int, int]:
    """Run ``code`` in a fresh interpreter: (peak RSS in MiB, CPU seconds, worker processes,
    blocks of a split parse that the interpreter parsed itself).

    A large JSON Lines import parses in worker processes. The peak is the interpreter's own
    plus each worker's (read by the worker from its /proc/self/status at exit), summed: an
    upper bound, since the peaks need not coincide. The CPU time is the interpreter's plus
    that of every child it waited for (the workers).
    """
    # VmHWM belongs to the new address space (exec resets it); ru_maxrss would carry over the
    # high-water mark of this (forking) process.
    script = code + (
        "\nimport re, resource\n"
        "from nexusctl.traffic.importers._split import LOCAL_BLOCKS, WORKER_PEAKS_KIB\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "own = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
        "print(own + sum(WORKER_PEAKS_KIB), "
        "u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime, len(WORKER_PEAKS_KIB), "
        "LOCAL_BLOCKS[0] if WORKER_PEAKS_KIB else 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    )
    kib, cpu, workers, here = out.stdout.strip().splitlines()[-1].split()
    return int(kib) / 1024, float(cpu), int(workers), int(here)


def text_inputs(synth: Path, folder: Path) -> tuple[Path, Path]:
    """Write the synthetic Parquet as canonical CSV and JSON Lines (DuckDB, not measured)."""
    import duckdb

    csv_path, jsonl_path = folder / "traffic.csv", folder / "traffic.jsonl"
    columns = (
        "strftime(time, '%Y-%m-%dT%H:%M:%S.%gZ') AS time, request_id, tenant, app, use_case, "
        "data_class, residency_class, risk_class, input_tokens, cached_input_tokens, "
        "output_tokens, reasoning_tokens, {caps} AS capabilities, complexity, confidence, "
        "small_model_correct, large_model_correct"
    )
    con = duckdb.connect()
    # COPY takes no bound parameters; every path here is our own temporary folder's.
    source = f"read_parquet('{synth}')"
    csv_columns = columns.format(caps="array_to_string(capabilities, ';')")
    con.execute(f"COPY (SELECT {csv_columns} FROM {source}) TO '{csv_path}' (HEADER)")  # noqa: S608
    json_columns = columns.format(caps="capabilities")
    con.execute(f"COPY (SELECT {json_columns} FROM {source}) TO '{jsonl_path}' (FORMAT JSON)")  # noqa: S608
    con.close()
    return csv_path, jsonl_path


def text_import(label: str, rows: int, src: Path, out: Path) -> None:
    """Import ``src`` in a fresh interpreter; print its wall time and peak RSS."""
    code = (
        "from pathlib import Path; "
        "from nexusctl.traffic.importers import ImportOptions, import_traffic; "
        f"import_traffic('canonical', Path({str(src)!r}), Path({str(out)!r}), ImportOptions())"
    )
    start = time.perf_counter()
    mib, cpu, workers, here = run_measured(code)
    seconds = time.perf_counter() - start
    shown = f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows:,}"
    # Wall time includes the interpreter's start; CPU time is what the import itself costs,
    # its worker processes included (on a shared machine, wall time also counts the waits
    # for a core).
    parts = f", with {workers} worker process(es)" if workers else ""
    summed = f"; its peak plus its {workers} worker(s)' peaks" if workers else ""
    print(f"{label} import {shown} rows: {seconds:.1f} s (target ≤ 5 s)")
    print(f"{label} import {shown} rows CPU: {cpu:.1f} s (user + system{parts})")
    print(f"{label} import {shown} rows peak RSS: {mib:,.0f} MiB (target ≤ 512 MiB{summed})")
    if workers:
        print(f"{label} import {shown} rows blocks parsed by the importing process: {here}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--only-text", action="store_true", help="only the CSV and JSON Lines imports"
    )
    args = parser.parse_args()
    if args.only_text:
        from nexusctl.traffic.synth import write_synth

        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            write_synth(tmp / "synth.parquet", args.rows, 1)
            csv_path, jsonl_path = text_inputs(tmp / "synth.parquet", tmp)
            text_import("csv", args.rows, csv_path, tmp / "from-csv.parquet")
            text_import("jsonl", args.rows, jsonl_path, tmp / "from-jsonl.parquet")
        return

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
        csv_path, jsonl_path = text_inputs(synth, tmp)
        text_import("csv", args.rows, csv_path, tmp / "from-csv.parquet")
        text_import("jsonl", args.rows, jsonl_path, tmp / "from-jsonl.parquet")
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
