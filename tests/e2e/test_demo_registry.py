"""`demo/60-registry.sh` end to end in a temporary output folder: the lines the README promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_registry_demo_step(tmp_path: Path) -> None:
    env = {**os.environ, "NEXUSCTL_DEMO_OUT": str(tmp_path), "PATH": f"{BIN}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", "demo/60-registry.sh"], cwd=REPO, env=env, capture_output=True, text=True
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr + out[-3000:]
    # v3 reaches prod through every gate, the simulation one on a signed attestation.
    prod = out[out.index("promote retail-chat@3 --to prod") :]
    for gate in ("order", "signature", "simulation", "approvals", "soak", "freeze"):
        assert f"  gate {gate}: pass" in prod
    assert "gate approvals: pass (2 approvals, 2 required)" in prod
    # v4 is refused at staging by its failed simulation, with the reason, and the demo goes on.
    assert (
        "error: gate 'simulation' failed: the simulation's gates failed: "
        "spend_change_max_pct, changed_decisions_max_pct\n(exit 6, as expected)"
    ) in out
    assert "recorded rollback as record 21" in out
    # history --at: v3 was live in prod then, promoted by the release key, approved by two.
    at = re.search(r"live at (\S+Z):\n  prod: retail-chat v3 (sha256:\w+)", out)
    assert at is not None
    assert "approved by alice, bob" in out[at.end() :]
    # The TUF client resolves prod to v2 (after the rollback), and status agrees.
    v2 = re.search(r"prod:\n  retail-chat v2 (sha256:\w+)", out[out.index("recorded rollback") :])
    assert v2 is not None
    assert re.search(rf"/gateway/tuf/prod/bundles/\w+ {v2.group(1)}\n", out)
    assert "registry diff dev staging" in out
    assert "  - guardrails no-frontier-for-public-faq: only in staging" in out
    assert "OK 21 records verified" in out
    assert "signature does not verify (payload or signature altered)\n(exit 5, as expected)" in out
    assert (tmp_path / "registry" / "records" / "000000000021.json").is_file()
