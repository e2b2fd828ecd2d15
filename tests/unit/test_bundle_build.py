"""Building bundles: reproducible bytes, safe paths, atomic writes."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from nexusctl.bundle import MANIFEST_NAME, build_bundle, check_tree
from nexusctl.bundle._manifest import check_relative_path, model_signing_order, parse_manifest
from nexusctl.errors import InputError, PolicyLoadError, VerificationError
from tests.conftest import POLICIES


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    shutil.copytree(POLICIES, folder)
    return folder / "retail-chat.yaml"


def test_two_runs_give_identical_trees(tmp_path: Path) -> None:
    one = build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "a")
    two = build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "b")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert one.digest == two.digest
    assert sorted(tree_bytes(tmp_path / "a")) == [
        "catalog.yaml",
        "manifest.json",
        "prices/litellm_model_prices_2026-07-24.json",
        "retail-chat.yaml",
    ]


def test_digest_is_sha256_of_manifest_file(tmp_path: Path) -> None:
    built = build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "b")
    data = (tmp_path / "b" / MANIFEST_NAME).read_bytes()
    assert built.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert check_tree(tmp_path / "b").digest == built.digest
    manifest = built.manifest
    assert manifest.name == f"retail-chat-v{manifest.policy.version}"
    assert manifest.policy.name == "retail-chat"
    assert [f.role for f in manifest.files] == ["catalog", "price-table", "policy"]


def test_policies_bundle_to_different_digests(tmp_path: Path) -> None:
    a = build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "a")
    b = build_bundle(POLICIES / "code-assistant.yaml", tmp_path / "b")
    assert a.digest != b.digest


def test_extra_file_is_carried(policy_copy: Path, tmp_path: Path) -> None:
    extra = policy_copy.parent / "calibration" / "alpha.json"
    extra.parent.mkdir()
    extra.write_text('{"alpha": 7}\n')
    built = build_bundle(policy_copy, tmp_path / "out", [extra])
    assert (tmp_path / "out" / "calibration" / "alpha.json").read_text() == '{"alpha": 7}\n'
    assert ("calibration/alpha.json", "extra") in [(f.path, f.role) for f in built.manifest.files]


def test_extra_outside_policy_folder_refused(policy_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    with pytest.raises(InputError, match="outside the policy's folder"):
        build_bundle(policy_copy, tmp_path / "out", [outside])
    assert not (tmp_path / "out").exists()


def test_dotdot_extra_refused(policy_copy: Path, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InputError, match="outside the policy's folder"):
        build_bundle(policy_copy, tmp_path / "out", [policy_copy.parent / ".." / "x.json"])


def test_symlinked_extra_refused(policy_copy: Path, tmp_path: Path) -> None:
    link = policy_copy.parent / "link.json"
    link.symlink_to(policy_copy.parent / "catalog.yaml")
    with pytest.raises(InputError, match="symlinks are refused"):
        build_bundle(policy_copy, tmp_path / "out", [link])


def test_symlinked_catalog_refused(policy_copy: Path, tmp_path: Path) -> None:
    folder = policy_copy.parent
    (folder / "catalog.yaml").rename(folder / "real-catalog.yaml")
    (folder / "catalog.yaml").symlink_to(folder / "real-catalog.yaml")
    with pytest.raises(InputError, match="symlinks are refused"):
        build_bundle(policy_copy, tmp_path / "out")


def test_reserved_name_refused(policy_copy: Path, tmp_path: Path) -> None:
    reserved = policy_copy.parent / "manifest.json"
    reserved.write_text("{}")
    with pytest.raises(InputError, match="reserves"):
        build_bundle(policy_copy, tmp_path / "out", [reserved])


def test_duplicate_extra_refused(policy_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="already in the bundle"):
        build_bundle(policy_copy, tmp_path / "out", [policy_copy.parent / "catalog.yaml"])


def test_non_empty_output_refused_then_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(InputError, match="not empty"):
        build_bundle(POLICIES / "retail-chat.yaml", out)
    assert (out / "keep.txt").read_text() == "precious"
    build_bundle(POLICIES / "retail-chat.yaml", out, force=True)
    assert not (out / "keep.txt").exists()
    check_tree(out)


def test_empty_output_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "out")
    check_tree(tmp_path / "out")


def test_symlinked_output_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match="symlink"):
        build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "out")


def test_broken_policy_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: nexuscore.io/v1\nkind: RoutingPolicy\n")
    with pytest.raises(PolicyLoadError):
        build_bundle(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


def test_no_staging_leftovers(tmp_path: Path) -> None:
    build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "out")
    build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "out", force=True)
    assert sorted(os.listdir(tmp_path)) == ["out"]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("a/../b", "'..'"),
        ("./a", "'.'"),
        ("a//b", "empty path segment"),
        ("a\\b", "backslash"),
        ("a/", "empty path segment"),
    ],
)
def test_unsafe_relative_paths(path: str, problem: str) -> None:
    reason = check_relative_path(path)
    assert reason is not None
    assert problem in reason


def test_safe_relative_path() -> None:
    assert check_relative_path("prices/table.json") is None


def test_model_signing_order_is_by_segments() -> None:
    # As strings "a-b/x" < "a/x" ('-' < '/'); model-signing sorts by path parts: "a" < "a-b".
    assert model_signing_order(["a-b/x", "a/x", "b"]) == ["a/x", "a-b/x", "b"]


def test_non_canonical_manifest_refused(tmp_path: Path) -> None:
    build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "out")
    data = (tmp_path / "out" / MANIFEST_NAME).read_bytes()
    with pytest.raises(VerificationError) as info:
        parse_manifest(data.replace(b'{"apiVersion"', b'{ "apiVersion"'))
    assert info.value.reason == "malformed-manifest"


def test_manifest_with_unsorted_files_refused(tmp_path: Path) -> None:
    import json

    build_bundle(POLICIES / "retail-chat.yaml", tmp_path / "out")
    doc = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())
    doc["files"].reverse()
    with pytest.raises(VerificationError) as info:
        parse_manifest(json.dumps(doc).encode())
    assert info.value.reason == "malformed-manifest"
