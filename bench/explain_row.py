"""Speed of explaining one row of a `simulate --decisions` file (issue 12, item 5).

Builds a decisions file of N rows (synthetic traffic replayed under retail-chat v3 -> v4; not
timed), then looks one row up in process, by row number (the Parquet footer locates its row
group: only that group is read) and by request id (the one column scanned), and runs the
whole command as its own process:

    read_decision_row --row        the last row                    (target <= 0.2 s for 1M rows)
    read_decision_row --request-id the last row's id               (target <= 1 s for 1M rows)
    policy explain --decisions     a process, import to exit       (target <= 2 s for 1M rows)

    .venv/bin/python bench/explain_row.py [--rows N]
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
POLICIES = REPO / "policies" / "nebula"
NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from nexusctl.simulate.decision_rows import read_decision_row
    from nexusctl.traffic.synth import write_synth

    with tempfile.TemporaryDirectory(prefix="nexusctl-explain-bench-") as tmp:
        traffic = Path(tmp) / "traffic.parquet"
        decisions = Path(tmp) / "decisions.parquet"
        write_synth(traffic, args.rows, 7)
        subprocess.run(
            [NEXUSCTL, "simulate",
             "--baseline", str(POLICIES / "retail-chat.yaml"),
             "--candidate", str(POLICIES / "retail-chat.candidate.yaml"),
             "--traffic", str(traffic), "--decisions", str(decisions), "--format", "json"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        last = args.rows - 1
        request_id = pq.read_table(decisions, columns=["request_id"]).column(0)[last].as_py()

        start = time.perf_counter()
        read_decision_row(decisions, side="candidate", row=last)
        by_row = time.perf_counter() - start
        start = time.perf_counter()
        read_decision_row(decisions, side="candidate", request_id=request_id)
        by_id = time.perf_counter() - start

        cpu = _cpu_children()
        start = time.perf_counter()
        subprocess.run(
            [NEXUSCTL, "policy", "explain",
             str(POLICIES / "retail-chat.candidate.yaml"), "--decisions", str(decisions),
             "--row", str(last), "--format", "json"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wall = time.perf_counter() - start
        cpu = _cpu_children() - cpu

    n = f"{args.rows:,} rows"
    print(f"read_decision_row --row ({n}): {by_row:.3f} s (target <= 0.2 s for 1M)")
    print(f"read_decision_row --request-id ({n}): {by_id:.3f} s (target <= 1 s for 1M)")
    print(f"policy explain --decisions ({n}): {wall:.2f} s wall, {cpu:.2f} s CPU (target <= 2 s)")


if __name__ == "__main__":
    main()
