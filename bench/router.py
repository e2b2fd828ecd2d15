"""Single-core decisions per second of the scalar router (and, with --replay, the vectorised one).

Generates ``--rows`` seeded requests per example policy (attribute vocabularies taken from the
policy itself, token sizes log-normal, loads 1..80), builds the RoutingRequest objects outside
the timed region, then times ``route()`` over all of them (best of ``--repeat`` runs; wall time
and CPU time are both printed because the machine is shared). With ``--replay`` it also times
``nexusctl.replay.replay`` over the same requests as an Arrow table (``--replay-rows`` rows).

    .venv/bin/python bench/router.py [--rows N] [--seed S] [--replay [--replay-rows N]]
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from nexusctl.policy import RoutingPolicy, RoutingRequest, load_policy
from nexusctl.replay import replay
from nexusctl.router import compile_plan, route

REPO = Path(__file__).resolve().parent.parent
POLICIES = ("retail-chat", "credit-underwriting", "code-assistant")
CAPABILITIES = ("tools", "json", "vision", "reasoning", "streaming", "long_context")


def vocabulary(policy: RoutingPolicy) -> dict[str, list[str]]:
    """Attribute values that exercise the policy's routes (plus a few that match none)."""
    spec = policy.spec
    use_cases = {"general"}
    for r in spec.routes:
        if r.match and r.match.use_cases:
            use_cases.update(r.match.use_cases)
    return {
        "tenant": sorted(t.id for t in spec.tenants) or ["tenant-a"],
        "use_case": sorted(use_cases),
        "residency_class": sorted(rc.id for rc in spec.residency_classes),
        "data_class": ["public", "internal", "confidential", "restricted"],
        "risk_class": ["low", "low", "medium", "high"],
    }


def generate_table(policy: RoutingPolicy, rows: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Return ``rows`` seeded requests for ``policy`` as a traffic table, and their loads."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(policy)
    columns = {k: np.asarray(v)[rng.integers(0, len(v), rows)] for k, v in vocab.items()}
    input_tokens = np.minimum(rng.lognormal(7.0, 1.0, rows).astype(np.int64), 200_000)
    output_tokens = np.minimum(rng.lognormal(5.0, 1.0, rows).astype(np.int64), 8_000)
    caps = rng.random((rows, len(CAPABILITIES))) < 0.08
    offsets = np.concatenate([[0], np.cumsum(caps.sum(axis=1))]).astype(np.int32)
    values = np.broadcast_to(np.asarray(CAPABILITIES), caps.shape)[caps]
    table = pa.table(
        {
            "time": pa.array(np.arange(rows, dtype=np.int64), type=pa.timestamp("ms", tz="UTC")),
            "request_id": pa.array(np.char.add("r", np.arange(rows).astype(str))),
            "tenant": columns["tenant"],
            "app": np.full(rows, "bench"),
            "use_case": columns["use_case"],
            "data_class": columns["data_class"],
            "residency_class": columns["residency_class"],
            "risk_class": columns["risk_class"],
            "input_tokens": input_tokens,
            "cached_input_tokens": (input_tokens * rng.choice([0.0, 0.0, 0.5], rows)).astype(
                np.int64
            ),
            "output_tokens": output_tokens,
            "reasoning_tokens": np.where(rng.random(rows) < 0.1, output_tokens * 2, 0),
            "capabilities": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
            "complexity": rng.random(rows),
            "confidence": pa.array(rng.random(rows), mask=rng.random(rows) >= 0.3),
        }
    )
    return table, rng.integers(1, 81, rows)


def requests_of(table: pa.Table, loads: np.ndarray) -> list[tuple[RoutingRequest, int]]:
    """Build validated RoutingRequests (outside any timed region)."""
    records = table.drop_columns(["time"]).to_pylist()
    return [
        (RoutingRequest.model_validate(r), int(load))
        for r, load in zip(records, loads, strict=True)
    ]


def bench_scalar(args: argparse.Namespace) -> None:
    total_n = 0
    total_s = total_cpu = 0.0
    for offset, name in enumerate(POLICIES):
        loaded = load_policy(REPO / "policies" / "nebula" / f"{name}.yaml")
        plan = compile_plan(loaded.policy, loaded.catalog.catalog)
        pairs = requests_of(*generate_table(loaded.policy, args.rows, args.seed + offset))
        route(plan, pairs[0][0], pairs[0][1])  # warm the per-route caches
        elapsed = cpu = float("inf")
        for _ in range(args.repeat):  # best of N: the machine is shared
            start, start_cpu = time.perf_counter(), time.process_time()
            outcomes: collections.Counter[str] = collections.Counter(
                route(plan, req, load).outcome for req, load in pairs
            )
            elapsed = min(elapsed, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        total_n += len(pairs)
        total_s += elapsed
        total_cpu += cpu
        mix = ", ".join(f"{k} {v / len(pairs):.0%}" for k, v in sorted(outcomes.items()))
        print(
            f"{name:<20} {len(pairs):>7} decisions in {elapsed:6.3f} s = "
            f"{len(pairs) / elapsed:>8,.0f} decisions/s wall, "
            f"{len(pairs) / cpu:>8,.0f} per CPU-second ({mix})"
        )
    print(
        f"{'all policies':<20} {total_n:>7} decisions in {total_s:6.3f} s = "
        f"{total_n / total_s:>8,.0f} decisions/s wall, {total_n / total_cpu:>8,.0f} per "
        "CPU-second (single core, scalar router)"
    )


def bench_replay(args: argparse.Namespace) -> None:
    for offset, name in enumerate(POLICIES):
        loaded = load_policy(REPO / "policies" / "nebula" / f"{name}.yaml")
        table, _ = generate_table(loaded.policy, args.replay_rows, args.seed + offset)
        elapsed = cpu = float("inf")
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            rows = sum(b.num_rows for b in replay(loaded, table))
            elapsed = min(elapsed, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        print(
            f"{name:<20} {rows:>9} decisions in {elapsed:6.3f} s = "
            f"{rows / elapsed:>10,.0f} decisions/s wall, {rows / cpu:>10,.0f} per CPU-second "
            "(vectorised replay, 65,536-row batches)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--repeat", type=int, default=5, help="report the best of N runs")
    parser.add_argument("--replay", action="store_true", help="also time the vectorised replay")
    parser.add_argument("--replay-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    bench_scalar(args)
    if args.replay:
        bench_replay(args)


if __name__ == "__main__":
    main()
