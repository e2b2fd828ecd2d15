"""`nexusctl policy init`: a commented scaffold, lint-clean in every variant, never overwriting
(issue 12, item 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.document import ROOT_MARKER

REPO = Path(__file__).resolve().parents[2]
NEBULA = REPO / "policies" / "nebula"

VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "eu-only": ["--allow-regions", "eu-west,eu-central", "--residency-class", "eu"],
    "one-provider": ["--allow-providers", "azure"],
    "both": ["--allow-regions", "eu-west", "--allow-providers", "azure,aws-bedrock"],
    "named": ["--name", "claims-v1", "--app", "claims-assistant", "--owner", "Claims Team <c@x>"],
    "us-only": ["--allow-regions", "us-east"],
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    top = tmp_path / "repo"
    shutil.copytree(NEBULA, top / "policies" / "nebula")
    (top / "policies" / "claims").mkdir()
    (top / ROOT_MARKER).write_bytes(b"")
    return top


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_lints_clean(repo: Path, variant: str) -> None:
    target = repo / "policies" / "claims" / "policy.yaml"
    catalog = repo / "policies" / "nebula" / "catalog.yaml"
    code, out, err = run(
        "policy",
        "init",
        str(target),
        "--catalog",
        str(catalog),
        "--tenant",
        "claims",
        *VARIANTS[variant],
    )
    assert code == 0, err
    assert out.strip() == f"wrote {target}"
    text = target.read_text()
    assert "catalog: ../nebula/catalog.yaml" in text
    assert text.count("\n#") + text.count("  #") > 10  # commented for a reader
    code, out, _ = run("policy", "lint", "--format", "json", str(target))
    report = json.loads(out)
    assert code == 0
    assert report["findings"] == []
    # Explain routes a request of the tenant on the new route.
    code, out, err = run(
        "policy",
        "explain",
        str(target),
        "--format",
        "json",
        "--request",
        json.dumps(
            {
                "tenant": "claims",
                "app": "claims-v1" if variant == "named" else "policy",
                "residencyClass": "eu" if variant == "eu-only" else "default",
                "inputTokens": 1000,
                "outputTokens": 500,
            }
        ),
    )
    assert code == 0, err
    assert json.loads(out)["decision"]["outcome"] == "routed"
    assert sorted(p.name for p in target.parent.iterdir()) == ["policy.yaml"]  # no temp files


def test_eu_only_is_an_allow_list_and_names_what_the_catalog_offers(repo: Path) -> None:
    target = repo / "policies" / "claims" / "claims.yaml"
    run(
        "policy",
        "init",
        str(target),
        "--catalog",
        str(repo / "policies/nebula/catalog.yaml"),
        "--tenant",
        "claims",
        "--allow-regions",
        "eu-west,eu-central",
    )
    text = target.read_text()
    assert "      allowRegions: [eu-west, eu-central]" in text
    assert "      regions: [eu-west, eu-central]" in text
    assert "# The catalog offers regions " in text
    assert "name: claims\n" in text  # the file's stem


def test_a_catalog_beside_the_policy_needs_no_root(tmp_path: Path) -> None:
    shutil.copytree(NEBULA, tmp_path / "nebula")
    target = tmp_path / "nebula" / "new.yaml"
    code, _, err = run(
        "policy",
        "init",
        str(target),
        "--catalog",
        str(tmp_path / "nebula" / "catalog.yaml"),
        "--tenant",
        "t",
    )
    assert code == 0, err
    assert "  catalog: catalog.yaml\n" in target.read_text()
    assert run("policy", "lint", str(target))[0] == 0


def test_an_existing_file_is_never_overwritten(repo: Path) -> None:
    target = repo / "policies" / "claims" / "policy.yaml"
    target.write_text("mine\n")
    code, out, err = run(
        "policy",
        "init",
        str(target),
        "--catalog",
        str(repo / "policies/nebula/catalog.yaml"),
        "--tenant",
        "claims",
    )
    assert code == 7
    assert out == ""
    assert "already exists; policy init never overwrites a file" in err
    assert target.read_text() == "mine\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["policy.yaml"]


def test_a_dangling_symlink_counts_as_existing(repo: Path) -> None:
    target = repo / "policies" / "claims" / "policy.yaml"
    target.symlink_to(repo / "nowhere.yaml")
    code, _, _ = run(
        "policy",
        "init",
        str(target),
        "--catalog",
        str(repo / "policies/nebula/catalog.yaml"),
        "--tenant",
        "claims",
    )
    assert code == 7
    assert not (repo / "nowhere.yaml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allow-regions", "eu-north"], "the catalog has no region 'eu-north'; its regions: "),
        (["--allow-providers", "acme"], "the catalog has no provider 'acme'"),
        (["--tenant", "Claims Team"], "--tenant 'Claims Team' is not an identifier"),
        (["--name", "x" * 70], "--name 'xxxx"),
    ],
)
def test_bad_options_are_usage_errors(repo: Path, args: list[str], message: str) -> None:
    target = repo / "policies" / "claims" / "policy.yaml"
    base = ["policy", "init", str(target), "--catalog", str(repo / "policies/nebula/catalog.yaml")]
    if "--tenant" not in args:
        base += ["--tenant", "claims"]
    code, _, err = run(*base, *args)
    assert code == 2
    assert message in err
    assert not target.exists()


def test_a_catalog_outside_the_root_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(NEBULA, outside)
    target = repo / "policies" / "claims" / "policy.yaml"
    code, _, err = run(
        "policy",
        "init",
        str(target),
        "--catalog",
        str(outside / "catalog.yaml"),
        "--tenant",
        "claims",
    )
    assert code == 3
    assert "outside the repository root" in err
    assert not target.exists()


def test_a_missing_folder_is_invalid_input(repo: Path) -> None:
    code, _, err = run(
        "policy",
        "init",
        str(repo / "nope" / "p.yaml"),
        "--catalog",
        str(repo / "policies/nebula/catalog.yaml"),
        "--tenant",
        "claims",
    )
    assert code == 3
    assert "no such folder" in err


def test_an_explicit_root_works_without_a_marker(repo: Path) -> None:
    (repo / ROOT_MARKER).unlink()
    target = repo / "policies" / "claims" / "policy.yaml"
    catalog = str(repo / "policies" / "nebula" / "catalog.yaml")
    code, _, err = run("policy", "init", str(target), "--catalog", catalog, "--tenant", "claims")
    assert code == 3
    assert "catalog.yaml: outside the policy's folder (no .nexusctl-root above it)" in err
    assert "hint: put an empty .nexusctl-root file in a folder above both, or pass --root" in err
    assert not target.exists()
    code, _, err = run(
        "policy",
        "init",
        str(target),
        "--catalog",
        catalog,
        "--tenant",
        "claims",
        "--root",
        str(repo),
    )
    assert code == 0, err
    assert run("policy", "lint", "--root", str(repo), str(target))[0] == 0
    assert run("policy", "lint", str(target))[0] == 3
