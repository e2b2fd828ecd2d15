"""``traffic synth --policy``: every route of every shipped policy receives traffic."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from nexusctl.policy.loader import load_policy
from nexusctl.router.plan import compile_match
from nexusctl.traffic.synth import segments_from_policies, synth_table, write_synth

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    path
    for path in (REPO / "policies").rglob("*.yaml")
    if "kind: RoutingPolicy" in path.read_text(encoding="utf-8")
)


def _first_route(routes: list[tuple[str, object]], default: str, row: dict[str, object]) -> str:
    request = SimpleNamespace(**row)
    for route_id, match in routes:
        if match is None or match.matches(request):
            return route_id
    return default


def test_the_shipped_policies_are_found() -> None:
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_route_is_matched_in_a_modest_sample(path: Path) -> None:
    policy = load_policy(path).policy
    table = synth_table(2_000, 7, segments=segments_from_policies([policy]))
    routes = [(route.id, compile_match(route.match)) for route in policy.spec.routes]
    hits = Counter(_first_route(routes, policy.spec.default.id, row) for row in table.to_pylist())
    expected = {route.id for route in policy.spec.routes} | {policy.spec.default.id}
    assert expected - set(hits) == set(), f"routes with no traffic: {expected - set(hits)}"


def test_a_new_route_gets_traffic_from_its_own_match(tmp_path: Path) -> None:
    source = (REPO / "policies" / "nebula" / "retail-chat.yaml").read_text(encoding="utf-8")
    added = source.replace(
        "  routes:\n",
        "  routes:\n"
        "    - id: claims-intake\n"
        "      match:\n"
        "        apps: [claims-portal]\n"
        "        useCases: [claims]\n"
        "        dataClasses: [confidential]\n"
        "        inputTokens: {min: 2000, max: 8000}\n"
        "        complexity: {min: 0.2, max: 0.4}\n"
        "      tiers: [small, mid]\n"
        "      sloMs: 8000\n"
        "      maxCost: 60000\n",
        1,
    )
    folder = tmp_path / "nebula"
    shutil.copytree(REPO / "policies" / "nebula", folder)
    policy_path = folder / "retail-chat.yaml"
    policy_path.write_text(added, encoding="utf-8")
    out = tmp_path / "synth.parquet"
    write_synth(out, 2_000, 3, policies=[policy_path])
    rows = pq.read_table(out).to_pylist()
    claims = [r for r in rows if r["app"] == "claims-portal"]
    assert claims, "the new route's app never appears"
    assert {r["use_case"] for r in claims} == {"claims"}
    assert {r["data_class"] for r in claims} == {"confidential"}
    assert all(2000 <= r["input_tokens"] <= 8000 for r in claims)
    assert all(0.2 <= r["complexity"] <= 0.4 for r in claims)
