"""Start-up and lint latency of the nexusctl CLI, beside two baselines measured the same way.

Each command runs in a fresh process (subprocess), once to warm the page cache and then
``--runs`` times; the table shows the median, min and max wall time. The baselines are the
bare interpreter (``python -c pass``) and a minimal typer app with one command, written to a
temporary file, so the ratios say what nexusctl itself adds on top of typer.

Wall time is what a user waits; CPU time (user + system of the child process) is printed
beside it because it barely moves when other work loads the machine.

Targets (issue #2): ``--help`` and ``--version`` within 1.25x the minimal typer app's
``--help``; ``policy lint policies/`` at most 0.6 s median; ``policy test policies/`` (the Nebula
PolicyTest files, issue 12) at most 1.0 s median.

    .venv/bin/python bench/startup.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compiled import compile_package

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NEXUSCTL = str(BIN / "nexusctl")
PYTHON = sys.executable

MINIMAL_TYPER_APP = '''\
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


@app.command()
def bye() -> None:
    """Say goodbye."""
    typer.echo("bye")


if __name__ == "__main__":
    app()
'''


def measure(
    cases: list[tuple[str, list[str]]], runs: int
) -> dict[str, tuple[list[float], list[float], int]]:
    """Time ``runs`` fresh runs of every case, interleaved round by round, after a warm-up.

    Returns wall times, CPU times (user + system of the child, from getrusage) and the exit
    code per case. Interleaving spreads any drift in machine load evenly over the cases, so
    the ratios stay fair on a shared machine; CPU time is far less sensitive to that load
    than wall time, so it is printed beside it.
    """
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    codes = {
        label: subprocess.run(argv, cwd=REPO, env=env, capture_output=True, check=False).returncode
        for label, argv in cases
    }
    times: dict[str, list[float]] = {label: [] for label, _ in cases}
    cpu: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(runs):
        for label, argv in cases:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, cwd=REPO, env=env, capture_output=True, check=False)
            times[label].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[label].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {label: (times[label], cpu[label], codes[label]) for label, _ in cases}


def lint_available() -> bool:
    """True once `nexusctl policy lint` is registered (another capability adds it)."""
    probe = subprocess.run(
        [NEXUSCTL, "policy", "lint", "--help"], cwd=REPO, capture_output=True, check=False
    )
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (>= 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    runs = max(args.runs, 10)
    print(compile_package(), file=sys.stderr if args.json else sys.stdout)

    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal_typer_app.py"
        minimal.write_text(MINIMAL_TYPER_APP)
        lint_cmd = ["policy", "lint", "policies/"] if lint_available() else ["policy", "--help"]
        cases = [
            ("python -c pass", [PYTHON, "-c", "pass"]),
            ("minimal typer app --help", [PYTHON, str(minimal), "--help"]),
            ("minimal typer app hello", [PYTHON, str(minimal), "hello"]),
            ("nexusctl --version", [NEXUSCTL, "--version"]),
            ("nexusctl --help", [NEXUSCTL, "--help"]),
            ("nexusctl " + " ".join(lint_cmd), [NEXUSCTL, *lint_cmd]),
            ("nexusctl policy test policies/", [NEXUSCTL, "policy", "test", "policies/"]),
        ]
        results = {}
        for label, (times, cpu, code) in measure(cases, runs).items():
            results[label] = {
                "median_s": statistics.median(times),
                "cpu_median_s": statistics.median(cpu),
                "min_s": min(times),
                "max_s": max(times),
                "exit_code": code,
            }

    typer_help = results["minimal typer app --help"]["median_s"]
    typer_help_cpu = results["minimal typer app --help"]["cpu_median_s"]
    targets = {
        "nexusctl --version": ("ratio", 1.25),
        "nexusctl --help": ("ratio", 1.25),
        "nexusctl policy lint policies/": ("seconds", 0.6),
        "nexusctl policy test policies/": ("seconds", 1.0),
    }
    for label, row in results.items():
        row["ratio_to_typer_help"] = row["median_s"] / typer_help
        row["cpu_ratio_to_typer_help"] = row["cpu_median_s"] / typer_help_cpu
        kind_limit = targets.get(label)
        if kind_limit:
            kind, limit = kind_limit
            value = row["ratio_to_typer_help"] if kind == "ratio" else row["median_s"]
            row["target"] = f"<= {limit}x typer --help" if kind == "ratio" else f"<= {limit} s"
            row["meets_target"] = value <= limit

    if args.json:
        print(json.dumps({"runs": runs, "python": sys.version.split()[0], "results": results}))
        return
    version = sys.version.split()[0]
    print(f"runs per command: {runs} (fresh processes, median wall time), python {version}")
    header = (
        f"{'command':<34} {'median':>8} {'min':>8} {'max':>8} {'x typer':>8} "
        f"{'cpu':>8} {'x typer':>8}  exit  target"
    )
    print(header)
    print("-" * len(header))
    for label, row in results.items():
        target = row.get("target", "")
        verdict = ("ok" if row["meets_target"] else "MISSED") if target else ""
        line = (
            f"{label:<34} {row['median_s']:>7.3f}s {row['min_s']:>7.3f}s {row['max_s']:>7.3f}s "
            f"{row['ratio_to_typer_help']:>7.2f}x {row['cpu_median_s']:>7.3f}s "
            f"{row['cpu_ratio_to_typer_help']:>7.2f}x  {row['exit_code']:>4}  {target} {verdict}"
        )
        print(line.rstrip())
    if "nexusctl policy lint policies/" not in results:
        print("note: `policy lint` is not registered yet; benched `policy --help` instead")


if __name__ == "__main__":
    main()
