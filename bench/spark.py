"""Bench ``simulate --engine spark`` on local[2] next to the NumPy engine, same traffic file.

    python bench/spark.py                    # 10,000,000 requests (seeded synth, cached)
    python bench/spark.py --rows 1000000     # a quicker look

Steps: synthesise N requests with the traffic helper's seeded generator into a Parquet file
under /tmp/nexusctl-bench-spark/ (kept: synthesising 10M takes a while); then run, each in its
own child process so their memory is measured apart, the NumPy engine's ``simulate`` and the
Spark engine's (retail-chat v3 -> v4); check that both JSON documents are equal but for the
engine name; print decisions per second (two per request: baseline and candidate), the peak
memory of each process (the driver's Python and, for Spark, its JVM, which in local mode
also runs the executors), and what the Spark figure predicts for a cluster (decisions per
core-second, core-hours for 1B requests).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "policies" / "nebula" / "retail-chat.yaml"
CANDIDATE = REPO / "policies" / "nebula" / "retail-chat.candidate.yaml"
CACHE = Path("/tmp/nexusctl-bench-spark")
MONTH_REQUESTS = 1_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--child", choices=["numpy", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--traffic", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.traffic, args.master)
        return
    sys.path.insert(0, str(REPO))
    traffic = _traffic(args.rows, args.seed)
    size = traffic.stat().st_size
    print(f"traffic: {args.rows:,} requests, seed {args.seed}, {size / 2**20:.1f} MiB Parquet")
    print(f"parquet bytes per request: {size / args.rows:.1f} B (target: informational)")
    decisions = 2 * args.rows
    local = _run_child("numpy", traffic, args.master)
    numpy_rate = decisions / float(local["simulate_s"])
    print(
        f"numpy simulate: {local['simulate_s']:.1f} s, {numpy_rate:,.0f} decisions/s "
        "(target: informational; one process)",
        flush=True,
    )
    print(
        f"numpy peak memory: {local['python_mib']:.0f} MiB (target: bounded by batches, not rows)",
        flush=True,
    )
    spark = _run_child("spark", traffic, args.master)
    same = local.pop("result") == spark.pop("result")
    spark_rate = decisions / float(spark["simulate_s"])
    per_core = spark_rate / _cores(args.master)
    core_hours = 2 * MONTH_REQUESTS / per_core / 3600
    print(f"results equal but engine: {same} (target: True)")
    print(
        f"spark {args.master} simulate: {spark['simulate_s']:.1f} s, {spark_rate:,.0f} "
        "decisions/s (target: informational; includes the load shuffle and the order check)"
    )
    print(f"spark / numpy throughput: {spark_rate / numpy_rate:.2f} x (target: informational)")
    print(
        f"spark peak driver memory: python {spark['python_mib']:.0f} MiB + JVM "
        f"{spark['jvm_mib']:.0f} MiB (target: python bounded by the parts, not rows)"
    )
    print(
        f"spark decisions per core-second: {per_core:,.0f} decisions/core-s (target: informational)"
    )
    print(
        f"predicted 1B-request month (2B decisions): {core_hours:.1f} core-hours "
        "(target: informational; linear in cores, Parquet on local disk)"
    )


def _cores(master: str) -> int:
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    return int(inside) if inside.isdigit() else 1


def _traffic(rows: int, seed: int) -> Path:
    from nexusctl.traffic.synth import write_synth

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"synth-{rows}-{seed}.parquet"
    if not path.exists():
        partial = path.with_suffix(".partial")
        started = time.perf_counter()
        write_synth(partial, rows, seed)
        partial.rename(path)
        print(f"synthesised in {time.perf_counter() - started:.1f} s -> {path}")
    return path


def _run_child(engine: str, traffic: Path, master: str) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            engine,
            "--traffic",
            str(traffic),
            "--master",
            master,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{engine} child failed:\n{done.stderr[-4000:]}")
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def _child(engine: str, traffic: Path, master: str) -> None:
    sys.path.insert(0, str(REPO))
    from nexusctl.simulate.run import SimulationRequest, simulate

    fold = None
    peak = _JvmPeak()
    if engine == "spark":
        from nexusctl.spark import SparkSettings
        from nexusctl.spark.session import start_session
        from nexusctl.spark.simulate import SparkFold

        settings = SparkSettings(master=master, conf=(("spark.ui.enabled", "false"),))
        start_session(settings)  # start-up is not part of the simulate time
        fold = SparkFold(settings)
        peak.start()
    request = SimulationRequest(baseline=BASELINE, candidate=CANDIDATE, traffic=traffic)
    started = time.perf_counter()
    result = simulate(request, fold=fold)
    elapsed = time.perf_counter() - started
    peak.stop()
    document = result.model_dump(mode="json", exclude={"engine"})
    python_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "simulate_s": elapsed,
                "python_mib": python_mib,
                "jvm_mib": peak.mib,
                "result": document,
            }
        )
    )


class _JvmPeak:
    """Sample the resident memory of this process's Java children (psutil) until stopped."""

    def __init__(self) -> None:
        self.mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for child in me.children(recursive=True):
                try:
                    if "java" in child.name():
                        total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.mib = max(self.mib, total / 2**20)


if __name__ == "__main__":
    main()
