"""Speed and memory of the evidence plane: ingest, verify, prove, report.

Builds a canonical Parquet file of N decision records over one month (not timed), then runs
each command as its own ``nexusctl`` process and prints its wall time, its CPU time (user +
system: the figure to trust on a shared machine) and its peak RSS (VmHWM):

    evidence ingest   N records into an empty store      (target <= 30 s for 1M)
    evidence verify   the whole store                    (target <= 10 s for 1M)
    evidence prove    one request in the store           (target <= 1 s for 10M)
    evidence report   one tenant, one month              (target <= 2 s for 10M)
    evidence conformance  N records against retail-chat  (no target; a separate store whose
                      records carry what routing needs, ingested untimed)
    peak memory of any of them                           (target <= 1 GB)

    .venv/bin/python bench/evidence.py [--rows N]
    .venv/bin/python bench/evidence.py --rows 10000000 --cache /tmp/nexusctl-evidence-10m

With ``--cache DIR`` the store is built once (ingested in chunks of ``--chunk`` records, each
chunk a few consecutive days, as a gateway would append) and kept in DIR; later runs reuse it
and time only verify, prove and report (``--skip-verify`` leaves out the full re-hash,
``--skip-conformance`` the conformance store, which is built at the same size).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
MONTH_US = 30 * 86_400_000_000

# What the ``nexusctl`` console script runs (nexusctl.cli.entry: only the invoked group's
# command modules are loaded), not the full application.
_RUN = """
import sys
from nexusctl.cli.entry import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
# VmHWM, not ru_maxrss: the latter keeps the forking parent's pages across exec.
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("RSS", peak, file=sys.stderr)
sys.exit(code)
"""


def write_records(path: Path, rows: int, first: int = 0, total: int | None = None) -> None:
    """Write ``rows`` valid records in the segment schema, time-sorted over one month.

    ``first`` and ``total``: write rows ``[first, first + rows)`` of a ``total``-record month
    (request ids and times continue across chunks), so a large store is built chunk by chunk
    in bounded memory.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nexusctl.evidence.record import arrow_schema

    total = rows if total is None else total
    # The month's times, evenly spread with jitter: chunk k holds consecutive days.
    step = MONTH_US // total
    index = np.arange(first, first + rows, dtype=np.int64)
    rng = np.random.default_rng(7 + first)
    times = START_US + index * step + rng.integers(0, step, rows)
    pick = rng.integers(0, 4, rows)

    def labels(values: list[str]) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[rng.integers(0, len(values), rows)])

    schema = arrow_schema()
    columns = {field.name: pa.nulls(rows, field.type) for field in schema}
    columns.update(
        {
            "nexus.record.version": pa.array(np.ones(rows, dtype=np.int64)),
            "nexus.record.kind": pa.array(["real"] * rows),
            "nexus.record.source": pa.array(["gateway"] * rows),
            "nexus.request.id": pa.array([f"req-{i:09d}" for i in range(first, first + rows)]),
            "nexus.request.time_unix_us": pa.array(times),
            "nexus.tenant.id": labels([f"tenant-{i}" for i in range(50)]),
            "nexus.app.id": labels(["chat", "advisor", "kyc", "code"]),
            "nexus.residency.class": labels(["eu-only", "us-only", "global"]),
            "nexus.environment": pa.array(["prod"] * rows),
            "nexus.policy.name": labels(["retail-chat", "wealth-advisor"]),
            "nexus.policy.version": pa.array(rng.integers(1, 6, rows)),
            "nexus.route.id": labels(["faq", "advice", "kyc-check", "default"]),
            "nexus.decision.outcome": pa.array(
                np.array(["routed", "routed", "escalated", "refused"], dtype=object)[pick]
            ),
            "nexus.route.tier": labels(["small", "mid", "frontier"]),
            "nexus.decision.reasons": pa.array([["NOT_CHEAPEST"]] * rows),
            "nexus.deployment.id": labels(["gpt-4o-mini-eu", "llama-3-8b-eu", "claude-us"]),
            "nexus.deployment.region": labels(["eu-west-1", "us-east-1"]),
            "gen_ai.request.model": labels(["gpt-4o-mini", "llama-3-8b"]),
            "gen_ai.usage.input_tokens": pa.array(rng.integers(10, 4000, rows)),
            "gen_ai.usage.output_tokens": pa.array(rng.integers(1, 1000, rows)),
            "nexus.cost.pusd": pa.array(rng.integers(0, 10**10, rows)),
            "nexus.latency_us": pa.array(rng.integers(10_000, 5_000_000, rows)),
            "nexus.status": pa.array(
                np.array(["ok", "ok", "escalated", "refused"], dtype=object)[pick]
            ),
        }
    )
    table = pa.table([columns[f.name] for f in schema], schema=schema)
    pq.write_table(table, path, compression="zstd")


def write_routable(source: Path, path: Path) -> None:
    """The records of ``source`` made routable under policies/nebula/retail-chat.yaml:
    retail tenants, use cases, data classes, EU residency and catalog deployment names."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    rng = np.random.default_rng(11)
    rows = table.num_rows

    def labels(values: list[str]) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[rng.integers(0, len(values), rows)])

    replace = {
        "nexus.tenant.id": labels(["retail-banking", "wealth"]),
        "nexus.app.id": labels(["mobile-chat", "web-chat"]),
        "nexus.use_case": labels(["faq", "faq", "advice", "account-help", "general"]),
        "nexus.data.class": labels(["public", "internal", "confidential"]),
        "nexus.residency.class": labels(["eu", "eu", "eu", "ca"]),
        "nexus.deployment.id": labels(
            ["mistral-eu-small", "azure-eu-gpt4o-mini", "bedrock-eu-haiku"]
        ),
        "nexus.deployment.region": pa.nulls(rows, pa.string()),
        "nexus.policy.name": pa.array(["retail-chat"] * rows),
    }
    for name, column in replace.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    pq.write_table(table, path, compression="zstd")


def nexusctl(label: str, target: str, *args: str) -> float:
    """Run one nexusctl command in a fresh process; print its time and peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, cwd=REPO, check=False
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr}")
    rss = int(done.stderr.split("RSS")[-1].split()[0]) / 1024
    print(
        f"{label}: {elapsed:.2f} s wall, {cpu:.2f} s CPU (target {target}); "
        f"peak RSS {rss:.0f} MiB (target <= 1024)"
    )
    return rss


def build(store: Path, key: Path, rows: int, chunk: int, scratch: Path) -> list[float]:
    """Create a store of ``rows`` records, ingested ``chunk`` records at a time; return peaks."""
    nexusctl("keygen", "-", "evidence", "keygen", "bench.example/evidence", "-o", str(key))
    nexusctl("init", "-", "evidence", "init", str(store), "--key", f"{key}.vkey")
    peaks = []
    for first in range(0, rows, chunk):
        count = min(chunk, rows - first)
        source = scratch / "records.parquet"
        write_records(source, count, first, rows)
        label = f"evidence ingest {count:,} records"
        if count != rows:
            label += f" (chunk {first // chunk + 1} of {-(-rows // chunk)}, store at {first:,})"
        peaks.append(
            nexusctl(
                label,
                "<= 30 s per 1M",
                *("evidence", "ingest", str(store), str(source), "--key", str(key)),
            )
        )
        source.unlink()
    return peaks


def measure(
    store: Path, key: Path, rows: int, scratch: Path, verify: bool, conform: bool = True
) -> list[float]:
    """Time verify (unless skipped), prove and report over an existing store."""
    n = f"{rows:,}"
    peaks = []
    if verify:
        peaks.append(
            nexusctl(
                f"evidence verify {n} records",
                "<= 10 s at 1M",
                *("evidence", "verify", str(store), "--key", f"{key}.vkey"),
            )
        )
    peaks += [
        nexusctl(
            f"evidence prove 1 request in {n}",
            "<= 1 s at 10M",
            *("evidence", "prove", str(store), "--request-id", f"req-{rows // 2:09d}"),
            *("-o", str(scratch / "proof.json")),
        ),
        nexusctl(
            f"evidence report 1 tenant, 1 month of {n}",
            "<= 2 s at 10M",
            *("evidence", "report", str(store), "--tenant", "tenant-7", "--from"),
            *("2026-01-01", "--to", "2026-01-31", "-o", str(scratch / "r.md")),
        ),
    ]
    return peaks + (conformance(key, rows, scratch) if conform else [])


def conformance(key: Path, rows: int, scratch: Path) -> list[float]:
    """Conformance over a second store whose records carry what routing needs (untimed setup)."""
    source, routable, store2 = scratch / "c.parquet", scratch / "routable.parquet", scratch / "c"
    write_records(source, rows)
    write_routable(source, routable)
    source.unlink()
    nexusctl(
        "init (conformance store)", "-", "evidence", "init", str(store2), "--key", f"{key}.vkey"
    )
    nexusctl(
        "ingest (conformance store, setup)",
        "-",
        *("evidence", "ingest", str(store2), str(routable), "--key", str(key)),
    )
    policy = str(REPO / "policies" / "nebula" / "retail-chat.yaml")
    return [
        nexusctl(
            f"evidence conformance {rows:,} records",
            "none; recorded",
            *("evidence", "conformance", str(store2), "--policy", policy, "-f", "json"),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="records per ingest")
    parser.add_argument("--cache", type=Path, help="build the store here once, then reuse it")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument(
        "--skip-conformance", action="store_true", help="leave out the conformance store"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        base = args.cache or scratch
        store, key = base / "store", base / "log.key"
        peaks: list[float] = []
        if not (base / "complete").is_file():
            base.mkdir(parents=True, exist_ok=True)
            # An interrupted build is started again from nothing.
            shutil.rmtree(store, ignore_errors=True)
            key.unlink(missing_ok=True)
            Path(f"{key}.vkey").unlink(missing_ok=True)
            peaks += build(store, key, args.rows, args.chunk, scratch)
            (base / "complete").write_text(f"{args.rows}\n")
        else:
            print(f"reusing the {args.rows:,}-record store in {base}")
        peaks += measure(
            store, key, args.rows, scratch, not args.skip_verify, not args.skip_conformance
        )
        print(f"peak RSS, any command: {max(peaks):.0f} MiB (target <= 1024)")


if __name__ == "__main__":
    main()
