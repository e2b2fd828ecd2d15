"""Repository roots: references may cross folders inside the root and nowhere else (issue 12,
item 3). Every refusal says what was refused and what to do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nexusctl.document import ROOT_MARKER, find_root
from nexusctl.errors import InputError, PolicyLoadError
from nexusctl.policy import load_policy

REPO = Path(__file__).resolve().parents[2]
NEBULA = REPO / "policies" / "nebula"
CLAIMS = REPO / "tests" / "assets" / "claims-assistant" / "policy.yaml"


def tenant_policy(folder: Path, catalog: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = CLAIMS.read_text().replace("catalog: ../nebula/catalog.yaml", f"catalog: {catalog}")
    path = folder / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository: a marker at its top, the shared catalog in policies/nebula."""
    top = tmp_path / "repo"
    (top / "policies").mkdir(parents=True)
    shutil.copy(NEBULA / "catalog.yaml", top / "policies" / "nebula-catalog.yaml")
    shared = top / "policies" / "nebula"
    shared.mkdir()
    shutil.copy(NEBULA / "catalog.yaml", shared / "catalog.yaml")
    shutil.copytree(NEBULA / "prices", shared / "prices")
    (top / ROOT_MARKER).write_bytes(b"")
    return top


def refused(path: Path, root: Path | None = None) -> str:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path, root=root)
    return caught.value.detail


def test_a_tenant_folder_loads_the_shared_catalog(repo: Path) -> None:
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/catalog.yaml")
    loaded = load_policy(policy)
    assert loaded.catalog.path == (repo / "policies" / "nebula" / "catalog.yaml").resolve()
    assert loaded.root is not None
    assert loaded.root.path == repo.resolve()
    assert loaded.root.chosen_by == "marker"
    assert loaded.catalog.price_table_path is not None


def test_without_a_marker_the_policy_folder_confines_and_the_message_says_what_to_do(
    repo: Path,
) -> None:
    (repo / ROOT_MARKER).unlink()
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/catalog.yaml")
    detail = refused(policy)
    assert "reference '../nebula/catalog.yaml' points outside the policy's folder" in detail
    assert f"put an empty {ROOT_MARKER} file in a folder above both (or pass --root DIR)" in detail
    # The explicit root does the same as the marker.
    assert load_policy(policy, root=repo).catalog.catalog.metadata.name == "nebula-catalog"


def test_climbing_out_of_the_root_is_refused_even_to_come_back(repo: Path) -> None:
    policy = tenant_policy(
        repo / "policies" / "claims", "../../../repo/policies/nebula/catalog.yaml"
    )
    detail = refused(policy)
    assert "points outside the repository root" in detail
    assert "move the file inside it, or the .nexusctl-root marker up" in detail
    outside = repo.parent / "catalog.yaml"
    shutil.copy(NEBULA / "catalog.yaml", outside)
    policy = tenant_policy(repo / "policies" / "claims", "../../../catalog.yaml")
    assert "points outside the repository root" in refused(policy)


@pytest.mark.parametrize("reference", ["/etc/passwd", "~/catalog.yaml", "\\\\server\\c.yaml", ""])
def test_absolute_and_home_references_are_refused(repo: Path, reference: str) -> None:
    policy = tenant_policy(repo / "policies" / "claims", f"'{reference}'")
    assert "must be a relative path" in refused(policy)


def test_a_symlink_out_of_the_root_is_refused_as_a_symlink(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    shutil.copy(NEBULA / "catalog.yaml", outside)
    folder = repo / "policies" / "claims"
    policy = tenant_policy(folder, "catalog.yaml")
    (folder / "catalog.yaml").symlink_to(outside)
    detail = refused(policy)
    assert (
        f"reference 'catalog.yaml' passes through a symlink (catalog.yaml -> {outside})" in detail
    )
    assert "name the file by its real relative path" in detail


def test_a_symlink_inside_the_root_is_refused_too(repo: Path) -> None:
    folder = repo / "policies" / "claims"
    policy = tenant_policy(folder, "shared/catalog.yaml")
    (folder / "shared").symlink_to(repo / "policies" / "nebula", target_is_directory=True)
    detail = refused(policy)
    assert "passes through a symlink (shared -> " in detail
    # The real path of the same file loads.
    tenant_policy(folder, "../nebula/catalog.yaml")
    assert load_policy(policy).catalog.path.name == "catalog.yaml"


def test_a_symlink_loop_is_refused_without_following_it(repo: Path) -> None:
    folder = repo / "policies" / "claims"
    policy = tenant_policy(folder, "loop-a/catalog.yaml")
    (folder / "loop-a").symlink_to(folder / "loop-b")
    (folder / "loop-b").symlink_to(folder / "loop-a")
    assert "passes through a symlink (loop-a -> " in refused(policy)


def test_a_price_table_escaping_the_root_is_refused(repo: Path, tmp_path: Path) -> None:
    catalog = repo / "policies" / "nebula" / "catalog.yaml"
    text = catalog.read_text().replace("path: prices/litellm", "path: ../../../prices/litellm")
    catalog.write_text(text)
    shutil.copytree(NEBULA / "prices", tmp_path / "prices")
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/catalog.yaml")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(policy)
    assert caught.value.location.path.endswith("nebula/catalog.yaml")
    assert "points outside the repository root" in caught.value.detail


def test_a_missing_reference_names_the_path_it_tried(repo: Path) -> None:
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/katalog.yaml")
    detail = refused(policy)
    assert "referenced file '../nebula/katalog.yaml' does not exist" in detail
    assert "the path is relative to the folder of the file that names it" in detail


def test_a_folder_is_not_a_catalog(repo: Path) -> None:
    policy = tenant_policy(repo / "policies" / "claims", "../nebula")
    assert "is not a regular file" in refused(policy)


def test_a_marker_that_is_a_folder_or_a_symlink_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / ROOT_MARKER).unlink()
    (repo / ROOT_MARKER).mkdir()
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/catalog.yaml")
    assert "the root marker is not a regular file" in refused(policy)
    (repo / ROOT_MARKER).rmdir()
    elsewhere = tmp_path / "marker"
    elsewhere.write_bytes(b"")
    (repo / ROOT_MARKER).symlink_to(elsewhere)
    assert "the root marker is a symlink" in refused(policy)


def test_a_marker_above_the_git_work_tree_is_ignored(repo: Path) -> None:
    (repo / ROOT_MARKER).unlink()
    (repo.parent / ROOT_MARKER).write_bytes(b"")  # planted above the repository
    (repo / ".git").mkdir()
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/catalog.yaml")
    assert find_root(policy.parent).chosen_by == "folder"
    assert "points outside the policy's folder" in refused(policy)
    (repo / ".git").rmdir()
    (repo / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git is a file
    assert find_root(policy.parent).chosen_by == "folder"


def test_a_marker_around_a_bundle_is_ignored(repo: Path) -> None:
    bundle = repo / "policies" / "claims"
    tenant_policy(bundle, "../nebula/catalog.yaml")
    (bundle / "manifest.json").write_text("{}")
    assert find_root(bundle).chosen_by == "folder"


def test_a_marker_at_the_filesystem_root_is_refused(tmp_path: Path) -> None:
    from nexusctl.document.root import _check_marker

    marker = Path(os.sep) / ROOT_MARKER
    info = os.stat(tmp_path)  # any stat of a non-link; the folder check comes first
    with pytest.raises(PolicyLoadError, match="not a regular file"):
        _check_marker(marker, info)
    regular = tmp_path / "f"
    regular.write_bytes(b"")
    with pytest.raises(PolicyLoadError, match="at the filesystem root would confine nothing"):
        _check_marker(marker, os.stat(regular))


def test_an_explicit_root_must_hold_the_policy(repo: Path, tmp_path: Path) -> None:
    policy = tenant_policy(repo / "policies" / "claims", "../nebula/catalog.yaml")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(InputError, match="is not inside --root"):
        load_policy(policy, root=other)
    with pytest.raises(InputError, match="not a folder"):
        load_policy(policy, root=tmp_path / "missing")
    # A narrower explicit root wins over the marker above it.
    assert "points outside" in refused(policy, root=repo / "policies" / "claims")


def test_the_shipped_policies_still_load_without_a_marker(tmp_path: Path) -> None:
    copy = tmp_path / "nebula"
    shutil.copytree(NEBULA, copy)
    loaded = load_policy(copy / "retail-chat.yaml")
    assert loaded.root is not None
    assert loaded.root.chosen_by == "folder"
