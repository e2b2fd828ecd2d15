"""Conformance of real decisions to the policy live at their time: a real registry (git,
signatures), a real evidence store (Parquet, DuckDB, signed checkpoints), the real replay.

Every deviation kind is produced by one record built to have it; what the policy decides is
asked of the scalar reference router first, so the records do not hard-code its choices.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from nexusctl.evidence.conformance import check_conformance, policy_selection
from nexusctl.policy import load_policy
from nexusctl.policy.request import RoutingRequest
from nexusctl.registry import ops
from nexusctl.router import route
from tests.cli.evidence_helpers import run, write_jsonl
from tests.registry_kit import World, new_world, policy_source, to_prod_ready
from tests.unit.test_evidence_record import record

pytestmark = pytest.mark.slow

SECOND_US = 1_000_000


def _us(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, str, int]:
    """retail-chat v3 live in dev, staging and prod; returns (world, v3 digest, prod since)."""
    world = new_world(tmp_path_factory.mktemp("conformance"), soak=0)
    digest = to_prod_ready(world, 3)
    ops.promote(world.reg, "retail-chat", 3, "prod", world.keys["ci"], world.clock)
    since = _us(world.clock.now())
    return world, digest, since


def _faq_choice(world: World) -> str:
    """The deployment retail-chat v3 chooses for the FAQ request of these tests."""
    oracle = world.tmp / "oracle" / "src-3" / "retail-chat.yaml"
    loaded = load_policy(oracle if oracle.exists() else policy_source(oracle.parents[1], 3))
    request = RoutingRequest(
        tenant="retail-banking",
        app="mobile-chat",
        use_case="faq",
        data_class="public",
        residency_class="eu",
        input_tokens=400,
        output_tokens=100,
    )
    decision = route(loaded, request, 1)
    assert decision.outcome == "routed"
    assert decision.deployment_id
    return decision.deployment_id


def _faq(n: int, at: int, **fields: Any) -> dict[str, Any]:
    base = {
        "nexus.request.id": f"req-{n}",
        "nexus.request.time_unix_us": at + n * 5 * SECOND_US,
        "nexus.tenant.id": "retail-banking",
        "nexus.app.id": "mobile-chat",
        "nexus.use_case": "faq",
        "nexus.data.class": "public",
        "nexus.residency.class": "eu",
        "nexus.environment": "prod",
        "nexus.policy.name": "retail-chat",
        "gen_ai.usage.input_tokens": 400,
        "gen_ai.usage.output_tokens": 100,
        "nexus.deployment.region": None,
        "nexus.cost.pusd": 100_000_000,
        "nexus.decision.reasons": [],
    }
    base.update(fields)
    return record(**base)


def _store(tmp: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    key = tmp / "log.key"
    assert run("evidence", "keygen", "nebula.example/evidence", "-o", str(key)).exit_code == 0
    store = tmp / "store"
    assert run("evidence", "init", str(store), "--key", f"{key}.vkey").exit_code == 0
    src = write_jsonl(tmp / "in.jsonl", rows)
    result = run("evidence", "ingest", str(store), str(src), "--key", str(key))
    assert result.exit_code == 0, result.stderr
    return store, key


def _counts(doc: dict[str, Any]) -> dict[str, int]:
    return {d["kind"]: d["count"] for d in doc["deviations"] if d["count"]}


def test_every_deviation_kind_found_against_the_registry(
    world: tuple[World, str, int], tmp_path: Path
) -> None:
    w, digest, since = world
    chosen = _faq_choice(w)
    other = "azure-eu-gpt4o-mini" if chosen != "azure-eu-gpt4o-mini" else "bedrock-eu-haiku"
    at = since + SECOND_US
    rows = [
        _faq(0, at, **{"nexus.deployment.id": chosen, "nexus.policy.bundle_digest": digest}),
        _faq(1, at, **{"nexus.deployment.id": other}),
        _faq(2, at, **{"nexus.deployment.id": "openai-us-gpt41-mini"}),  # us-east: breach
        _faq(3, at, **{"nexus.deployment.id": chosen, "nexus.cost.pusd": 2_001_000_000}),
        _faq(4, at, **{"nexus.decision.outcome": "refused", "nexus.deployment.id": None}),
        _faq(5, at, **{"nexus.decision.outcome": "escalated", "nexus.deployment.id": None}),
        # An unknown residency class: nothing is eligible, v3 escalates to retail-ops-review.
        _faq(
            6,
            at,
            **{
                "nexus.residency.class": "apac",
                "nexus.deployment.id": None,
                "nexus.decision.outcome": "refused",
            },
        ),
        _faq(7, at, **{"nexus.residency.class": "apac", "nexus.deployment.id": chosen}),
        _faq(
            8,
            at,
            **{"nexus.deployment.id": chosen, "nexus.policy.bundle_digest": "sha256:" + "ab" * 32},
        ),
        # Logged by its price-table key, as LiteLLM does: the same deployment, no deviation.
        _faq(
            9,
            at,
            **{
                "nexus.deployment.id": "mistral/mistral-small-latest"
                if chosen == "mistral-eu-small"
                else chosen
            },
        ),
        # Not checkable, each for its reason.
        _faq(10, at, **{"nexus.environment": None, "nexus.deployment.id": chosen}),
        _faq(11, at, **{"nexus.environment": "qa", "nexus.deployment.id": chosen}),
        _faq(12, since - 3600 * SECOND_US, **{"nexus.deployment.id": chosen}),
        _faq(13, at, **{"nexus.app.id": None, "nexus.deployment.id": chosen}),
        _faq(14, at, **{"nexus.use_case": "advice", "nexus.deployment.id": chosen}),
    ]
    store, _ = _store(tmp_path, rows)
    result = run("evidence", "conformance", str(store), "--registry", str(w.reg), "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["policy_source"] == "registry"
    assert doc["records"] == 15
    assert _counts(doc) == {
        "deployment-mismatch": 1,  # req-1
        "residency-breach": 2,  # req-2 (us-east), req-7 (apac allows no region)
        "over-cost-cap": 1,
        "missed-escalation": 1,
        "outcome-mismatch": 1,
        "policy-not-live": 1,
    }
    assert doc["deviating_records"] == 6  # req-1, 2, 3, 6, 7, 8
    # req-2's deployment has reasoning, which the policy's choice lacks: had the request
    # needed it, the policy would not choose its FAQ model, so which one is not known. The
    # refusal (req-4) and escalation (req-5) could be right for a request needing a
    # capability no EU small model has. Unrecorded capabilities are never guessed.
    assert doc["not_checkable"] == {
        "depends-on-capabilities": 3,
        "depends-on-complexity": 1,
        "missing-attributes": 1,
        "no-environment": 1,
        "no-policy-live": 2,
    }
    (group,) = doc["policies"]
    assert group["digest"] == digest
    assert group["version"] == 3
    examples = {
        e["request_id"]: e
        for d in doc["deviations"]
        for e in d["examples"]
        if d["kind"] == "deployment-mismatch"
    }
    assert set(examples) == {"req-1"}
    assert examples["req-1"]["expected"].startswith(f"routed {chosen} (route faq)")
    assert examples["req-1"]["actual"] == f"routed {other}"

    gate = run(
        "evidence", "conformance", str(store), "--registry", str(w.reg), "--fail-on-deviation"
    )
    assert gate.exit_code == 6, gate.stderr
    assert "DEVIATIONS FOUND" in gate.stdout
    assert "6 record(s) deviate" in gate.stderr


def test_no_deviation_passes_the_gate_and_counterfactuals_are_never_read(
    world: tuple[World, str, int], tmp_path: Path
) -> None:
    w, _digest, since = world
    chosen = _faq_choice(w)
    at = since + SECOND_US
    rows = [_faq(n, at, **{"nexus.deployment.id": chosen}) for n in range(3)]
    store, key = _store(tmp_path, rows)
    # A counterfactual record that would deviate: kept in its own log, never checked.
    from nexusctl.clock import SYSTEM_CLOCK
    from nexusctl.evidence.keys import load_signer
    from nexusctl.evidence.sources import read_jsonl
    from nexusctl.evidence.store import ingest

    fake = _faq(50, at, **{"nexus.record.kind": "counterfactual", "nexus.deployment.id": "x"})
    table = read_jsonl(write_jsonl(tmp_path / "cf.jsonl", [fake]))
    ingest(store, table, load_signer(key), "counterfactual", SYSTEM_CLOCK, "cf")
    result = run(
        "evidence", "conformance", str(store), "--registry", str(w.reg), "--fail-on-deviation"
    )
    assert result.exit_code == 0, result.stderr
    assert "3 real record(s), 3 decision-checked, 0 with a deviation" in result.stdout
    assert "OK: no deviation" in result.stdout
    selection = policy_selection(w.reg, None)
    assert selection is not None
    report = check_conformance(store, selection)
    assert report.records == 3
    assert report.deviating_records == 0


def test_an_explicit_policy_checks_every_record_and_finds_refusals_made_or_missed(
    world: tuple[World, str, int], tmp_path: Path
) -> None:
    w, _, since = world
    source = policy_source(tmp_path / "refusing", 7)
    text = source.read_text()
    marker = "      onNoEligible: true\n"
    assert text.count(marker) == 1
    source.write_text(text.replace(marker, marker + "      action: refuse\n"))
    # Every deployment offers every capability a request could need, so what the records
    # do not say (required capabilities) cannot change a decision: refusals are checkable.
    catalog = source.parent / "catalog.yaml"
    every = "capabilities: [tools, json, vision, reasoning, streaming, long_context, audio]"
    catalog.write_text(re.sub(r"capabilities: \[[^]]*\]", every, catalog.read_text()))
    chosen = _faq_choice(w)
    unset = {"nexus.environment": None}
    rows = [
        _faq(0, since, **{"nexus.residency.class": "apac", "nexus.deployment.id": chosen}, **unset),
        _faq(1, since, **{"nexus.deployment.id": chosen}, **unset),
        _faq(
            2, since, **{"nexus.decision.outcome": "refused", "nexus.deployment.id": None}, **unset
        ),
        _faq(
            3,
            since,
            **{"nexus.decision.outcome": "escalated", "nexus.deployment.id": chosen},
            **unset,
        ),
    ]
    store, _ = _store(tmp_path, rows)
    result = run("evidence", "conformance", str(store), "--policy", str(source), "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["policy_source"] == "explicit"
    assert doc["decision_checked"] == 4
    assert _counts(doc) == {
        "missed-refusal": 1,
        "residency-breach": 1,
        "unexpected-refusal": 1,
        "unexpected-escalation": 1,
    }
    both = run(
        "evidence", "conformance", str(store), "--policy", str(source), "--registry", str(w.reg)
    )
    assert both.exit_code == 2
    neither = run("evidence", "conformance", str(store))
    assert neither.exit_code == 2
    assert "--registry" in neither.stderr


def test_report_joins_the_registry_and_gates_on_deviation(
    world: tuple[World, str, int], tmp_path: Path
) -> None:
    w, digest, since = world
    chosen = _faq_choice(w)
    at = since + SECOND_US
    rows = [
        _faq(
            0,
            at,
            **{
                "nexus.deployment.id": chosen,
                "nexus.policy.bundle_digest": digest,
                "nexus.policy.version": 3,
            },
        ),
        _faq(
            1,
            at,
            **{
                "nexus.deployment.id": "openai-us-gpt41-mini",
                "nexus.policy.bundle_digest": digest,
                "nexus.policy.version": 3,
            },
        ),
    ]
    store, _ = _store(tmp_path, rows)
    out = run("evidence", "report", str(store), "--registry", str(w.reg), "-f", "json")
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    (entry,) = doc["promotions"]
    assert (entry["environment"], entry["policy"], entry["version"]) == ("prod", "retail-chat", 3)
    (promotion,) = entry["promotions"]
    assert promotion["event"] == "promote"
    assert promotion["promoted_by"] == "ci"
    assert sorted(promotion["approved_by"]) == ["alice", "bob"]
    assert {g["name"]: g["verdict"] for g in promotion["gates"]}["approvals"] == "pass"
    assert doc["conformance"]["deviating_records"] == 1
    assert doc["budgets"]["retail-banking"] == 40_000_000_000 * 1_000_000
    markdown = run("evidence", "report", str(store), "--registry", str(w.reg))
    assert "promoted and approved by whom" in markdown.stdout
    assert (
        "approved by alice, bob" in markdown.stdout or "approved by bob, alice" in markdown.stdout
    )
    assert "residency-breach" in markdown.stdout
    gate = run(
        "evidence",
        "report",
        str(store),
        "--registry",
        str(w.reg),
        "-f",
        "html",
        "-o",
        str(tmp_path / "r.html"),
        "--fail-on-deviation",
    )
    assert gate.exit_code == 6
    assert "<svg" in (tmp_path / "r.html").read_text()
    usage = run("evidence", "report", str(store), "--fail-on-deviation")
    assert usage.exit_code == 2


def test_bad_policy_sources_are_one_clear_line(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, [_faq(0, 1_767_225_600_000_000, **{"nexus.deployment.id": "x"})])
    not_registry = tmp_path / "empty"
    not_registry.mkdir()
    result = run("evidence", "conformance", str(store), "--registry", str(not_registry))
    assert result.exit_code == 3
    assert "not a registry" in result.stderr
    assert "Traceback" not in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: nexuscore.io/v1\nkind: RoutingPolicy\nspec: [\n")
    result = run("evidence", "report", str(store), "--policy", str(broken))
    assert result.exit_code == 3
    assert "broken.yaml" in result.stderr
    result = run("evidence", "conformance", str(tmp_path), "--policy", str(broken))
    assert result.exit_code == 3
