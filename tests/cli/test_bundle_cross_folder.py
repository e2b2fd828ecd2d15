"""A tenant policy that references the shared catalog across folders bundles, signs, verifies,
simulates and explains from its bundle as from its source (issue 12, item 3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.bundle import build_bundle, bundled_policy
from nexusctl.cli.app import app
from nexusctl.document import ROOT_MARKER
from nexusctl.errors import InputError
from nexusctl.policy import load_policy
from nexusctl.traffic.synth import write_synth

REPO = Path(__file__).resolve().parents[2]
NEBULA = REPO / "policies" / "nebula"
SCENARIO = REPO / "tests" / "assets" / "claims-assistant"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """policies/nebula (the shared catalog) and policies/claims (a tenant) under one root."""
    top = tmp_path / "repo"
    shutil.copytree(NEBULA, top / "policies" / "nebula")
    claims = top / "policies" / "claims"
    claims.mkdir()
    for asset in SCENARIO.iterdir():
        text = asset.read_text().replace("catalog: catalog.yaml", "catalog: ../nebula/catalog.yaml")
        (claims / asset.name).write_text(text)
    (top / ROOT_MARKER).write_bytes(b"")
    return top


def test_the_claims_tenant_uses_the_shared_catalog_end_to_end(repo: Path) -> None:
    claims = repo / "policies" / "claims"
    code, out, _ = run("policy", "lint", "--format", "json", str(claims / "policy-dead.yaml"))
    assert code == 1
    (item,) = json.loads(out)["findings"]
    assert item["rule"] == "NXL017"
    assert run("policy", "lint", str(claims / "policy.yaml"))[0] == 0
    code, out, _ = run("policy", "test", str(claims))
    assert code == 0, out
    assert out.startswith("PASS: 3 case(s)")


def test_policy_tests_may_live_in_their_own_folder_under_the_root(repo: Path) -> None:
    tests = repo / "tests" / "claims"
    tests.mkdir(parents=True)
    text = (repo / "policies" / "claims" / "claims.test.yaml").read_text()
    text = text.replace("policy: policy.yaml", "policy: ../../policies/claims/policy.yaml")
    (tests / "claims.test.yaml").write_text(text)
    (repo / "policies" / "claims" / "claims.test.yaml").unlink()
    code, out, _ = run("policy", "test", str(tests))
    assert code == 0, out
    (repo / ROOT_MARKER).unlink()
    code, out, _ = run("policy", "test", str(tests))
    assert code == 3, out
    assert "points outside the test file's folder (no .nexusctl-root above it)" in out
    code, out, _ = run("policy", "test", "--root", str(repo), str(tests))
    assert code == 0, out


def test_bundle_lays_out_from_the_common_folder_and_loads_as_its_source(
    repo: Path, tmp_path: Path
) -> None:
    policy = repo / "policies" / "claims" / "policy.yaml"
    built = build_bundle(policy, tmp_path / "bundle")
    paths = {f.path: f.role for f in built.manifest.files}
    assert paths == {
        ROOT_MARKER: "extra",
        "claims/policy.yaml": "policy",
        "nebula/catalog.yaml": "catalog",
        "nebula/prices/litellm_model_prices_2026-07-24.json": "price-table",
    }
    # Nothing rewritten: the bundled policy is its source, byte for byte.
    assert (tmp_path / "bundle" / "claims" / "policy.yaml").read_bytes() == policy.read_bytes()
    inside, tree = bundled_policy(tmp_path / "bundle")
    loaded = load_policy(inside)
    assert loaded.root is not None
    assert loaded.root.path == (tmp_path / "bundle").resolve()
    assert loaded.catalog.path == (tmp_path / "bundle" / "nebula" / "catalog.yaml").resolve()
    assert loaded.policy == load_policy(policy).policy
    assert tree.digest == built.digest


def test_the_digest_is_reproducible_and_independent_of_where_the_repo_is(
    repo: Path, tmp_path: Path
) -> None:
    first = build_bundle(repo / "policies" / "claims" / "policy.yaml", tmp_path / "a").digest
    again = build_bundle(repo / "policies" / "claims" / "policy.yaml", tmp_path / "b").digest
    moved = tmp_path / "moved"
    shutil.copytree(repo, moved)
    elsewhere = build_bundle(moved / "policies" / "claims" / "policy.yaml", tmp_path / "c").digest
    assert first == again == elsewhere


def test_a_single_folder_bundle_is_laid_out_as_before(tmp_path: Path) -> None:
    built = build_bundle(NEBULA / "retail-chat.yaml", tmp_path / "out")
    assert sorted(f.path for f in built.manifest.files) == [
        "catalog.yaml",
        "prices/litellm_model_prices_2026-07-24.json",
        "retail-chat.yaml",
    ]


def test_sign_verify_and_simulate_the_cross_folder_bundle(repo: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    policy = repo / "policies" / "claims" / "policy.yaml"
    assert run("policy", "bundle", str(policy), "-o", str(bundle))[0] == 0
    assert run("key", "generate", "--out", str(tmp_path / "release.pem"))[0] == 0
    assert run("policy", "sign", str(bundle), "--key", str(tmp_path / "release.pem"))[0] == 0
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  defaultEnvironment: staging\n  environments:\n"
        "    staging:\n      keys: [{id: release, path: release.pub}]\n"
    )
    code, _, err = run("policy", "verify", str(bundle), "--trust", str(trust))
    assert code == 0, err
    traffic = tmp_path / "traffic.parquet"
    write_synth(traffic, 300, 5)
    code, out, err = run(
        "simulate",
        "--baseline",
        str(bundle),
        "--candidate",
        str(policy),
        "--traffic",
        str(traffic),
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["decisions"]["changed"] == 0
    code, out, err = run(
        "policy",
        "explain",
        str(bundle / "claims" / "policy.yaml"),
        "--request",
        '{"tenant": "claims", "app": "claims-assistant", "residencyClass": "eu", '
        '"inputTokens": 1000, "outputTokens": 500, "complexity": 0.8}',
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["decision"]["tier"] == "mid"


def test_an_extra_outside_the_root_is_refused(repo: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray.json"
    stray.write_text("{}")
    with pytest.raises(InputError, match="outside the repository root"):
        build_bundle(repo / "policies" / "claims" / "policy.yaml", tmp_path / "b", [stray])
    inside = repo / "docs.md"
    inside.write_text("notes")
    built = build_bundle(repo / "policies" / "claims" / "policy.yaml", tmp_path / "c", [inside])
    assert "docs.md" in {f.path for f in built.manifest.files}


def test_a_bundle_cannot_reach_out_of_itself_through_a_marker_above(
    repo: Path, tmp_path: Path
) -> None:
    """A single-folder bundle stored under a root: its policy stays confined to the bundle."""
    bundle = repo / "store" / "b"
    built = build_bundle(NEBULA / "retail-chat.yaml", bundle)
    assert ROOT_MARKER not in {f.path for f in built.manifest.files}
    policy = bundle / "retail-chat.yaml"
    text = policy.read_text().replace(
        "catalog: catalog.yaml", "catalog: ../../policies/nebula/catalog.yaml"
    )
    policy.write_text(text)
    code, _, err = run("policy", "show", str(policy))
    assert code == 3
    assert "points outside the policy's folder" in err
