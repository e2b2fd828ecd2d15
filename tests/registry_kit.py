"""Build real registries for tests and the benchmark: keys, config, trust policy, bundles.

Bundles are small copies of retail-chat (any version) with the catalog's price-table
reference removed, so a registry of thousands of versions stays small on disk.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from nexusctl.bundle import build_bundle
from nexusctl.clock import FixedClock
from nexusctl.signing import KeySigner, sign_bundle
from nexusctl.signing.keys import generate_key_pair

POLICIES = Path(__file__).resolve().parent.parent / "policies" / "nebula"
ACTORS = ("admin", "admin2", "ci", "alice", "bob", "carol", "mallory")
TRAFFIC_SHA = "ab" * 32
GATES_SHA = "cd" * 32


def make_keys(folder: Path) -> dict[str, Path]:
    """Generate a key pair per actor; return actor -> private key path."""
    out = {}
    for actor in ACTORS:
        generate_key_pair(folder / f"{actor}.pem")
        out[actor] = folder / f"{actor}.pem"
    return out


def config_yaml(
    folder: Path,
    *,
    version: int = 1,
    admins: tuple[str, ...] = ("admin", "admin2"),
    admin_threshold: int = 1,
    prod_approvals: int = 2,
    soak: int = 3600,
    freeze: str = "",
    traffic_sha: str = TRAFFIC_SHA,
    gates_sha: str = GATES_SHA,
    traffic_location: str = "",
    commit_signers: str = "",
    releasers: tuple[str, ...] = ("ci",),
    trust_policy: str = "",
    extra_environment: str = "",
) -> str:
    """Return a RegistryConfig for dev -> staging -> prod (mallory is never named)."""
    keys = "".join(
        f"    - id: {a}\n      pem: |\n"
        + textwrap.indent((folder / f"{a}.pub").read_text(), "        ")
        for a in ACTORS
        if a != "mallory"
    )
    admin_list = ", ".join(admins)
    trust_line = f"  trustPolicy: {trust_policy}\n" if trust_policy else ""
    return f"""apiVersion: nexuscore.io/v1
kind: RegistryConfig
metadata: {{name: nebula, version: {version}}}
spec:
  keys:
{keys}  admins: {{keys: [{admin_list}], threshold: {admin_threshold}}}
  releasers: [{", ".join(releasers)}]
{trust_line}{commit_signers}  environments:
    - name: dev
      trustEnvironment: dev
      gates: [signature]
    - name: staging
      trustEnvironment: staging
      gates: [order, signature, approvals, soak, freeze]
      approvers: {{keys: [alice, bob], threshold: 1}}
      soakSeconds: {soak}
    - name: prod
      trustEnvironment: prod
      approvers: {{keys: [alice, bob, carol], threshold: {prod_approvals}}}
      overrideApprovers: {{keys: [carol], threshold: 1}}
      soakSeconds: {soak}
      trafficSamples: [{{name: retail-week, sha256: {traffic_sha}{traffic_location}}}]
      gatesSha256: {gates_sha}
{freeze}{extra_environment}"""


TRUST = """apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata: {name: nebula-trust, version: 1}
spec:
  environments:
    dev: {keys: [{id: ci, path: ci.pub}]}
    staging: {keys: [{id: ci, path: ci.pub}]}
    prod: {keys: [{id: ci, path: ci.pub}]}
"""


def write_setup(folder: Path, **config: object) -> tuple[Path, Path]:
    """Write registry.yaml and trust.yaml into ``folder`` (keys must exist there)."""
    (folder / "registry.yaml").write_text(config_yaml(folder, **config))
    (folder / "trust.yaml").write_text(TRUST)
    return folder / "registry.yaml", folder / "trust.yaml"


def policy_source(folder: Path, version: int) -> Path:
    """Write retail-chat at ``version`` with a price-table-free catalog; return the policy."""
    src = folder / f"src-{version}"
    src.mkdir(parents=True)
    text = (POLICIES / "retail-chat.yaml").read_text()
    (src / "retail-chat.yaml").write_text(
        re.sub(r"\n  version: 3\n", f"\n  version: {version}\n", text, count=1)
    )
    catalog = (POLICIES / "catalog.yaml").read_text()
    catalog = re.sub(r"  priceTable:\n(    .*\n)+", "", catalog, count=1)
    (src / "catalog.yaml").write_text(catalog)
    return src / "retail-chat.yaml"


def signed_bundle(folder: Path, version: int, key: Path) -> Path:
    """Build and sign retail-chat v``version``; return the bundle folder."""
    built = build_bundle(policy_source(folder, version), folder / f"bundle-{version}")
    sign_bundle(built.path, KeySigner.from_file(key))
    return built.path


def edited_bundle(folder: Path, version: int, key: Path) -> Path:
    """retail-chat at ``version`` with one change of each kind the diff reports."""
    source = policy_source(folder, version)
    text = source.read_text()
    edits = [
        ("        - atLeast: 0.6\n", "        - atLeast: 0.5\n"),  # advice: a threshold
        ("    frontierShareMaxPct: 5\n", "    frontierShareMaxPct: 3\n"),  # limits
        ("    - id: wealth\n      monthlyBudget: 15000000000\n", ""),  # a tenant removed
        ("      sloMs: 4000\n", "      sloMs: 3000\n"),  # faq: the SLO
        ("  owner: retail-platform@nebula.example\n", "  owner: chat-team@nebula.example\n"),
        (  # a guardrail added
            "  routes:\n",
            "    - id: no-mistral\n      deny:\n        providers: [mistral]\n  routes:\n",
        ),
    ]
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    # The vision route moves after advice (first match wins, so order is part of the policy).
    vision = text[text.index("    - id: vision-statements\n") : text.index("    - id: advice\n")]
    text = text.replace(vision, "", 1)
    text = text.replace("  default:\n", vision + "  default:\n", 1)
    source.write_text(text)
    built = build_bundle(source, folder / f"bundle-{version}")
    sign_bundle(built.path, KeySigner.from_file(key))
    return built.path


def clock() -> FixedClock:
    """A clock a little in the past, so TUF metadata written with it is not yet expired."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    return FixedClock(start)


def routing_diff(
    folder: Path,
    key: Path,
    baseline: str,
    candidate: str,
    *,
    traffic: str = TRAFFIC_SHA,
    gates_sha: str = GATES_SHA,
    passed: bool = True,
    name: str = "routing-diff.json",
) -> Path:
    """Sign a complete routing-diff attestation (what `simulate --attest` signs)."""
    from nexusctl.signing import Subject, attest
    from nexusctl.statements import (
        ROUTING_DIFF_PREDICATE,
        AttestedGate,
        AttestedPolicy,
        RoutingDiffPredicate,
    )

    def side(name: str, digest: str) -> AttestedPolicy:
        return AttestedPolicy(
            name="retail-chat",
            version=1,
            policy_sha256=name * 64,
            catalog_sha256="c" * 64,
            bundle_digest=digest,
        )

    pair = {"baseline": 0, "candidate": 0}
    predicate = RoutingDiffPredicate(
        generator="nexusctl test",
        baseline=side("a", baseline),
        candidate=side("b", candidate),
        traffic_sha256=traffic,
        gates_sha256=gates_sha,
        requests=10,
        decisions_changed=0,
        spend_micro_usd={"baseline": 0, "candidate": 0, "change": 0},
        residency_violations=pair,
        frontier_requests=pair,
        escalated_or_refused=pair,
        slo_met=pair,
        served=pair,
        passed=passed,
        gates=[
            AttestedGate(
                name="spend_change_max_pct",
                comparison="<=",
                threshold="5.000000",
                value="0.000000" if passed else "9.000000",
                passed=passed,
                source="file",
            )
        ],
    ).model_dump(mode="json")
    subjects = [Subject.of("baseline", baseline), Subject.of("candidate", candidate)]
    path = folder / name
    path.write_bytes(attest(subjects, ROUTING_DIFF_PREDICATE, predicate, KeySigner.from_file(key)))
    return path


@dataclass
class World:
    """A registry under test: its folder, the actors' keys and the clock it runs on."""

    tmp: Path
    keys: dict[str, Path]
    clock: FixedClock
    reg: Path


def new_world(tmp: Path, the_clock: FixedClock | None = None, **config: object) -> World:
    """Create keys, config, trust policy and an initialised registry in ``tmp``."""
    from nexusctl.registry import ops

    tmp.mkdir(parents=True, exist_ok=True)
    keys = make_keys(tmp)
    config_path, trust = write_setup(tmp, **config)
    world = World(tmp, keys, the_clock or clock(), tmp / "reg")
    ops.init_registry(world.reg, config_path, trust, [keys["admin"], keys["admin2"]], world.clock)
    return world


def live_in_prod(tmp: Path, the_clock: FixedClock | None = None) -> World:
    """A new registry (``new_world``) where v3 is live in dev, staging and prod."""
    from nexusctl.registry import ops

    world = new_world(tmp, the_clock)
    to_prod_ready(world, 3)
    ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    return world


def to_prod_ready(world: World, version: int) -> str:
    """Publish ``version``, walk it to staging, approve it for prod; return its digest."""
    from nexusctl.registry import ops

    keys, c, reg = world.keys, world.clock, world.reg
    bundle = signed_bundle(world.tmp, version, keys["ci"])
    digest = ops.publish(reg, bundle, keys["ci"], c).predicate.bundle.digest
    ops.promote(reg, "retail-chat", version, "dev", keys["ci"], c)
    c.advance(dt.timedelta(hours=1))
    ops.approve(reg, "retail-chat", version, "staging", keys["alice"], c)
    ops.promote(reg, "retail-chat", version, "staging", keys["ci"], c)
    c.advance(dt.timedelta(hours=1))
    ops.approve(reg, "retail-chat", version, "prod", keys["alice"], c)
    ops.approve(reg, "retail-chat", version, "prod", keys["bob"], c)
    return digest


def diverged_world(tmp: Path) -> World:
    """A registry where v3 is live in dev and staging, then the edited v4 in dev (none in prod)."""
    from nexusctl.registry import ops

    world = new_world(tmp, soak=0)
    keys, c, reg = world.keys, world.clock, world.reg
    ops.publish(reg, signed_bundle(tmp, 3, keys["ci"]), keys["ci"], c)
    ops.promote(reg, "retail-chat", 3, "dev", keys["ci"], c)
    ops.approve(reg, "retail-chat", 3, "staging", keys["alice"], c)
    ops.promote(reg, "retail-chat", 3, "staging", keys["ci"], c)
    ops.publish(reg, edited_bundle(tmp, 4, keys["ci"]), keys["ci"], c)
    ops.promote(reg, "retail-chat", 4, "dev", keys["ci"], c)
    return world


#: The start of a crash driver run as ``python -c DRIVER METHOD CONDITION REG TIME ...``: it
#: kills its own process (SIGKILL) at the first ``Store.METHOD`` call whose first argument
#: ``rel`` meets CONDITION, and sets ``clock`` to TIME. A test appends the event to run.
KILL_AT_STORE_CALL = """
import datetime as dt, os, signal, sys
from pathlib import Path
from nexusctl.clock import FixedClock
from nexusctl.registry._store import Store

method, condition = sys.argv[1], sys.argv[2]
original = getattr(Store, method)

def dying(self, *args, **kwargs):
    rel = args[0] if args and isinstance(args[0], str) else ""
    if eval(condition, {"rel": rel}):
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)

setattr(Store, method, dying)
clock = FixedClock(dt.datetime.fromisoformat(sys.argv[4]))
"""
