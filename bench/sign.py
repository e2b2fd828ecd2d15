"""Benchmark `policy bundle`, `policy sign --key` and `policy verify` as a user runs them.

Each figure is the median wall time (and CPU time, user+sys, which a busy machine disturbs
less) of fresh `nexusctl` processes (start-up included), for:
bundle, sign (local key) and verify of policies/nebula/retail-chat.yaml (with its 1.5 MB price
table), and verify of a signed bundle of 1,000 files. Targets: each of the first three
<= 0.5 s on the reference 2-core machine.

    .venv/bin/python bench/sign.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")
TRUST = """apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata: {name: bench, version: 1}
spec:
  environments:
    prod:
      keys: [{id: bench, path: bench.pub}]
"""


def timed(args: list[str]) -> tuple[float, float]:
    """Return (wall seconds, CPU seconds user+sys) of one fresh nexusctl process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([NEXUSCTL, *args], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def median_of(runs: int, args: list[str]) -> tuple[float, float]:
    samples = [timed(args) for _ in range(runs)]
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def big_policy(folder: Path, files: int) -> tuple[Path, list[str]]:
    """A copy of the Nebula policies plus ``files`` small calibration files to include."""
    shutil.copytree(REPO / "policies" / "nebula", folder)
    extras = []
    for i in range(files):
        path = folder / "calibration" / f"{i // 100:02d}" / f"c{i:04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{{"sample": {i}, "alpha": {i % 97}}}\n')
        extras += ["--include", str(path)]
    return folder / "retail-chat.yaml", extras


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (>= 5)")
    runs = max(5, parser.parse_args().runs)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "bench.pem"
        subprocess.run(
            [NEXUSCTL, "key", "generate", "--out", str(key)], check=True, capture_output=True
        )
        (tmp / "trust.yaml").write_text(TRUST)
        policy = REPO / "policies" / "nebula" / "retail-chat.yaml"
        bundle = tmp / "bundle"
        figures = {
            "bundle retail-chat (4 files, 1.5 MB)": median_of(
                runs, ["policy", "bundle", str(policy), "-o", str(bundle), "--force"]
            ),
            "sign --key": median_of(runs, ["policy", "sign", str(bundle), "--key", str(key)]),
            "verify": median_of(
                runs, ["policy", "verify", str(bundle), "--trust", str(tmp / "trust.yaml")]
            ),
            "inspect --format json": median_of(
                runs, ["policy", "inspect", str(bundle), "--format", "json"]
            ),
        }
        big, extras = big_policy(tmp / "big-src", 1000)
        big_bundle = tmp / "big"
        subprocess.run(
            [NEXUSCTL, "policy", "bundle", str(big), "-o", str(big_bundle), *extras],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [NEXUSCTL, "policy", "sign", str(big_bundle), "--key", str(key)],
            check=True,
            capture_output=True,
        )
        files = sum(1 for p in big_bundle.rglob("*") if p.is_file())
        figures[f"verify, bundle of {files} files"] = median_of(
            runs, ["policy", "verify", str(big_bundle), "--trust", str(tmp / "trust.yaml")]
        )
        figures["nexusctl --help (start-up floor)"] = median_of(runs, ["--help"])
    print(
        f"median of {runs} fresh processes each (start-up included); load {os.getloadavg()[0]:.2f}"
    )
    width = max(len(k) for k in figures)
    print(f"  {'':<{width}}    wall s   CPU s")
    for name, (wall, cpu) in figures.items():
        print(f"  {name:<{width}}  {wall:7.3f} {cpu:7.3f}")


if __name__ == "__main__":
    main()
