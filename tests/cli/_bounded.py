"""Run the real nexusctl in a subprocess and measure it: exit code, output, peak memory.

The bound is what a hostile input must never break (issue 8: "never a hang, memory bounded"):
the child is killed after ``seconds`` (a hang fails the test, it does not hang the suite) and
its address space is capped at ``ADDRESS_CAP`` so a runaway read fails fast instead of taking
the machine's memory. The peak resident size comes from ``wait4``'s rusage of that one child.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

NEXUSCTL = Path(sys.executable).with_name("nexusctl")
SECONDS = 10
MEMORY_BOUND = 1 << 30  # 1 GiB peak resident
ADDRESS_CAP = 4 << 30  # virtual address space of the child (imports reserve more than they use)


@dataclass(frozen=True)
class Outcome:
    """How a bounded run ended."""

    code: int
    stdout: str
    stderr: str
    peak_rss_bytes: int


def _cap_address_space() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_CAP, ADDRESS_CAP))


def run_bounded(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> Outcome:
    """Run ``nexusctl *args``; fail the test if it is still running after ``SECONDS``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(NEXUSCTL), *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cwd,
            preexec_fn=_cap_address_space,
            bufsize=0,
        )
        if stdin is not None and proc.stdin is not None:
            # The child may stop reading at its cap and exit: a closed pipe here is expected.
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(stdin)
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        deadline = time.monotonic() + SECONDS
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                pytest.fail(f"nexusctl {' '.join(args)} still running after {SECONDS} s")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Outcome(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            usage.ru_maxrss * 1024,  # Linux reports kilobytes
        )


def assert_bounded(outcome: Outcome) -> None:
    """The run stayed under the memory bound (the time bound is enforced by ``run_bounded``)."""
    assert outcome.peak_rss_bytes < MEMORY_BOUND, f"peak RSS {outcome.peak_rss_bytes} bytes"
    assert "Traceback" not in outcome.stderr
