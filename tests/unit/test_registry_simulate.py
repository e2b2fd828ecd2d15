"""`registry promote --simulate`: the simulation runs at promotion time against what is live,
on the environment's registered traffic and gates, and its signed attestation is the evidence."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from nexusctl.errors import GateFailed, UsageError
from nexusctl.registry import ops
from nexusctl.registry.ops import Simulate
from nexusctl.registry.verify import verify_registry
from nexusctl.traffic.synth import write_synth
from tests.registry_kit import World, edited_bundle, new_world, policy_source, to_prod_ready

GATES = """apiVersion: nexuscore.io/v1
kind: SimulationGates
metadata: {name: promotion-gates, version: 1}
spec:
  changedDecisionsMaxPct: 0
  residencyViolationsMax: 0
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sim")
    traffic = folder / "sample.parquet"
    write_synth(traffic, 1500, 7, policies=[policy_source(folder, 3)])
    gates = folder / "gates.yaml"
    gates.write_text(GATES)
    return {"traffic": traffic, "gates": gates}


@pytest.fixture
def world(tmp_path: Path, inputs: dict[str, Path]) -> World:
    """v3 live in prod; prod registers the sample (kept in the registry) and the gates file."""
    world = new_world(
        tmp_path,
        soak=0,
        traffic_sha=sha(inputs["traffic"]),
        gates_sha=sha(inputs["gates"]),
        traffic_location=", location: traffic/sample.parquet",
    )
    kept = world.reg / "traffic" / "sample.parquet"
    kept.parent.mkdir()
    kept.write_bytes(inputs["traffic"].read_bytes())
    git = ["git", "-C", str(world.reg), "-c", "user.name=admin", "-c", "user.email=a@x.invalid"]
    subprocess.run([*git, "add", "traffic"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "traffic sample"], check=True)
    to_prod_ready(world, 3)
    ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    return world


def test_simulate_at_promotion_is_the_evidence(world: World, inputs: dict[str, Path]) -> None:
    to_prod_ready(world, 4)  # v4 is v3 with a new version number: no decision changes
    plan = Simulate(traffic=None, gates=inputs["gates"])  # the sample kept in the registry
    result = ops.promote(
        world.reg, "retail-chat", 4, "prod", world.keys["ci"], world.clock, simulate=plan
    )
    gate = next(g for g in result.predicate.gates if g.name == "simulation")
    assert gate.verdict == "pass"
    assert gate.evidence is not None
    stored = world.reg / "evidence" / (gate.evidence.removeprefix("sha256:") + ".json")
    assert "sha256:" + sha(stored) == gate.evidence
    assert verify_registry(world.reg)["live"]["prod"]["retail-chat"]["version"] == 4


def test_a_failing_simulation_refuses_the_promotion(world: World, inputs: dict[str, Path]) -> None:
    ops.publish(world.reg, edited_bundle(world.tmp, 4, world.keys["ci"]), world.keys["ci"],
                world.clock)  # fmt: skip
    for env in ("dev", "staging"):
        if env == "staging":
            ops.approve(world.reg, "retail-chat", 4, env, world.keys["alice"], world.clock)
        ops.promote(world.reg, "retail-chat", 4, env, world.keys["ci"], world.clock)
    for approver in ("alice", "bob"):
        ops.approve(world.reg, "retail-chat", 4, "prod", world.keys[approver], world.clock)
    before = sorted((world.reg / "records").iterdir())
    plan = Simulate(traffic=inputs["traffic"], gates=inputs["gates"])
    with pytest.raises(GateFailed) as info:
        ops.promote(
            world.reg, "retail-chat", 4, "prod", world.keys["ci"], world.clock, simulate=plan
        )
    assert "gate 'simulation' failed" in str(info.value)
    assert "changed_decisions_max_pct" in str(info.value)
    assert sorted((world.reg / "records").iterdir()) == before


def test_only_the_registered_traffic_and_gates(
    world: World, inputs: dict[str, Path], tmp_path: Path
) -> None:
    to_prod_ready(world, 4)
    other = tmp_path / "other.yaml"
    other.write_text(GATES.replace("changedDecisionsMaxPct: 0", "changedDecisionsMaxPct: 50"))
    stray = tmp_path / "stray.parquet"
    stray.write_bytes(inputs["traffic"].read_bytes() + b"\0")
    for plan, message in (
        (Simulate(traffic=None, gates=other), "is not the gates file configured"),
        (Simulate(traffic=None, gates=None), "requires the gates file"),
        (Simulate(traffic=stray, gates=inputs["gates"]), "is not a traffic sample registered"),
    ):
        with pytest.raises(UsageError) as info:
            ops.promote(
                world.reg, "retail-chat", 4, "prod", world.keys["ci"], world.clock, simulate=plan
            )
        assert message in str(info.value)
