"""Benchmark the registry as users run it: promote, history --at, status, resolve, verify.

Builds (once, cached under the temp folder) a registry through the library: VERSIONS versions
of retail-chat, each published, promoted dev -> staging -> prod with approvals and a signed
routing-diff attestation and an override approval kept at hand (10 records per version: the
issue's size is 2,000 versions / 20,000 records). Then prints the median wall time of fresh
`nexusctl` processes, start-up included:

    promote  (all gates, simulation attestation supplied)   target <= 2 s
    history --at                                             target <= 1 s
    status                                                   target <= 0.5 s
    resolve  (TUF client, state kept between polls)          target <= 0.5 s
    verify   (the whole history)                             target >= 2,000 records/s

    .venv/bin/python bench/registry.py [--versions 2000] [--runs 5] [--only verify,resolve]

CPU time (user + system of the child and its children: git, verify's workers) is printed
beside wall time, with the load average before and after, because the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compiled import compile_package

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")
SPACING = dt.timedelta(seconds=61)


COMMANDS = ("promote", "history", "status", "resolve", "verify")


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def build(folder: Path, versions: int) -> None:
    """Build the registry through the library: every event checked, signed and committed.

    Events go through ``nexusctl.registry.bulk.Session`` (one lock, one replay, the commits
    streamed into one ``git fast-import``: still one commit per event); the CLI commits each
    event with ``git commit``.
    """
    from nexusctl.clock import FixedClock
    from nexusctl.registry.bulk import Session
    from tests.registry_kit import new_world, routing_diff, signed_bundle

    start = dt.datetime.now(dt.UTC) - SPACING * (2 * versions + 4) - dt.timedelta(minutes=10)
    world = new_world(folder, FixedClock(start), soak=60)
    keys, c, reg = world.keys, world.clock, world.reg
    live_prod: str | None = None
    with Session(reg, c) as session:
        for index, version in enumerate(range(3, 3 + versions)):
            bundle = signed_bundle(folder / "bundles", version, keys["ci"])
            published = session.publish(bundle, keys["ci"]).predicate.bundle
            assert published is not None
            shutil.rmtree(bundle.parent)
            session.promote("retail-chat", version, "dev", keys["ci"])
            c.advance(SPACING)
            for approver in ("alice", "bob"):
                session.approve("retail-chat", version, "staging", keys[approver])
            session.promote("retail-chat", version, "staging", keys["ci"])
            c.advance(SPACING)
            for approver in ("alice", "bob", "carol"):
                session.approve("retail-chat", version, "prod", keys[approver])
            # An emergency override approval kept at hand (freeze windows): the 10th record.
            session.approve("retail-chat", version, "prod", keys["carol"], purpose="override")
            if index == versions - 1:
                # The last version waits at staging: the benchmark promotes it.
                attestation = routing_diff(folder, keys["ci"], str(live_prod), published.digest)
                (folder / "last.txt").write_text(f"{version}\n{attestation}\n")
                break
            attestation = None
            if live_prod is not None:
                attestation = routing_diff(folder, keys["ci"], live_prod, published.digest)
            session.promote("retail-chat", version, "prod", keys["ci"], attestation=attestation)
            live_prod = published.digest
            if index % 50 == 0:
                print(f"  built {index + 1}/{versions} versions", file=sys.stderr, flush=True)
    (folder / "mid.txt").write_text((start + SPACING * versions).isoformat())
    (folder / "built").write_text("ok\n")


def timed(args: list[str]) -> tuple[float, float]:
    """Return (wall s, CPU s user+sys) of one fresh nexusctl process (git children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([NEXUSCTL, *args], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def git(reg: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(reg), *args], check=True, capture_output=True, text=True
    ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only",
        default=",".join(COMMANDS),
        help="comma-separated commands to time (default: all): " + ", ".join(COMMANDS),
    )
    options = parser.parse_args()
    only = {name.strip() for name in options.only.split(",") if name.strip()}
    if not only or only - set(COMMANDS):
        parser.error(f"--only takes some of {', '.join(COMMANDS)}")
    print(compile_package())
    folder = Path(tempfile.gettempdir()) / f"nexusctl-bench-registry-{options.versions}"
    if not (folder / "built").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        began = time.perf_counter()
        build(folder, options.versions)
        print(f"built in {time.perf_counter() - began:.0f} s (cached in {folder})")
    reg = folder / "reg"
    records = len(list((reg / "records").glob("*.json")))
    version, attestation = (folder / "last.txt").read_text().split()
    key = str(folder / "ci.pem")
    cache, status_head = reg / ".git" / "nexusctl-state.json", reg / ".git" / "nexusctl-status.json"
    if not status_head.is_file():  # a cache built before status read its own head file
        subprocess.run([NEXUSCTL, "registry", "status", "-r", str(reg)], check=True,
                       capture_output=True)  # fmt: skip
    head, saved = git(reg, "rev-parse", "HEAD").strip(), cache.read_bytes()
    saved_head = status_head.read_bytes()
    # Leave the clone as any finished command leaves it: a full check of the tree, then the
    # clean stamp naming HEAD (a copied cache may lack it), so each promote times the hot path.
    from nexusctl.registry._store import CLEAN_STAMP, Store

    with Store(reg).locked():
        pass
    stamp = reg / ".git" / CLEAN_STAMP
    stamped = stamp.read_bytes()

    promote_args = ["registry", "promote", f"retail-chat@{version}", "--to", "prod",
                    "--key", key, "--attestation", attestation, "-r", str(reg)]  # fmt: skip
    began = load()
    samples: dict[str, list[tuple[float, float]]] = {}
    if "promote" in only:
        samples["promote"] = []
        for _ in range(options.runs):
            samples["promote"].append(timed(promote_args))
            git(reg, "reset", "--quiet", "--hard", head)
            cache.write_bytes(saved)
            status_head.write_bytes(saved_head)
            stamp.write_bytes(stamped)
    at = (folder / "mid.txt").read_text()
    if "history" in only:
        samples["history --at"] = [
            timed(["registry", "history", "-r", str(reg), "--env", "prod", "--at", at])
            for _ in range(options.runs)
        ]
    if "status" in only:
        samples["status"] = [
            timed(["registry", "status", "-r", str(reg)]) for _ in range(options.runs)
        ]
    if "resolve" in only:
        state = folder / "client"
        shutil.rmtree(state, ignore_errors=True)
        resolve_args = ["registry", "resolve", "prod", "retail-chat", "--from", str(reg),
                        "--state", str(state)]  # fmt: skip
        timed(resolve_args)  # first contact: bootstrap from root; later polls keep state
        samples["resolve"] = [timed(resolve_args) for _ in range(options.runs)]
    verify = []
    if "verify" in only:
        verify = [
            timed(["registry", "verify", "-r", str(reg)]) for _ in range(max(1, options.runs // 2))
        ]

    print(
        f"registry: {options.versions} versions, {records} records (wall s, CPU s); "
        f"load average (1/5/15 min) {began} before, {load()} after"
    )
    targets = {"promote": "<= 2 s", "history --at": "<= 1 s", "status": "<= 0.5 s",
               "resolve": "<= 0.5 s"}  # fmt: skip
    for label, timings in samples.items():
        wall, cpu = medians(timings)
        print(f"{label}: {wall:.3f} s wall, {cpu:.3f} s CPU (target {targets[label]})")
    if verify:
        wall, cpu = medians(verify)
        print(
            f"verify: {records / wall:,.0f} records/s wall, {records / cpu:,.0f} records/s CPU"
            f" ({wall:.1f} s wall, {cpu:.1f} s CPU; target >= 2,000 records/s)"
        )


if __name__ == "__main__":
    main()
