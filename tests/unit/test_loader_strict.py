"""The strict YAML reader and loader, called directly (no CLI)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from nexusctl.document import MAX_NODES, SourceMap, load_document, read_yaml
from nexusctl.errors import ExitCode, PolicyLoadError
from nexusctl.policy.loader import (
    LoadedCatalog,
    load_catalog,
    load_policy,
    load_price_table,
)
from nexusctl.policy.routing import RoutingPolicy

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "loader"
POLICIES = Path(__file__).resolve().parent.parent.parent / "policies" / "nebula"


def test_alias_bomb_is_refused_before_expansion_in_bounded_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(PolicyLoadError) as caught:
            read_yaml(ASSETS / "alias-bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"more than {MAX_NODES} nodes" in caught.value.detail
    # Expanded, the document has 10^9 leaves; refusing it must cost a few MiB at most.
    assert peak < 16 * 1024 * 1024


def test_expansion_just_under_the_bound_is_accepted(tmp_path: Path) -> None:
    leaves = ", ".join(["x"] * 100)
    text = f"a: &a [{leaves}]\nb: [" + ", ".join(["*a"] * 900) + "]\n"
    path = tmp_path / "wide.yaml"
    path.write_text(text)
    data, _ = read_yaml(path)
    assert len(data["b"]) == 900


def test_load_error_carries_location_and_exit_code() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(ASSETS / "duplicate-key.yaml")
    error = caught.value
    assert (error.location.line, error.location.column) == (25, 7)
    assert error.exit_code == ExitCode.INVALID_INPUT
    assert str(error).endswith("duplicate key 'sloMs' (first at line 24)")


def test_wrong_kind_names_the_expected_kind() -> None:
    with pytest.raises(PolicyLoadError, match="expected 'RoutingPolicy'"):
        load_document(ASSETS / "wrong-kind.yaml", RoutingPolicy)


def test_several_schema_errors_are_counted_in_the_hint(tmp_path: Path) -> None:
    text = (ASSETS / "valid-policy.yaml").read_text()
    text = text.replace("sloMs: 20000", "sloMs: fast").replace("sloMs: 30000", "sloMs: slow")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    (tmp_path / "catalog.yaml").write_text((ASSETS / "catalog.yaml").read_text())
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    assert caught.value.hint == "1 more schema error(s) after this one"
    assert caught.value.location.line == 24


def test_unknown_field_in_a_union_member_suggests_that_members_fields() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_catalog(ASSETS / "catalog-gpu-typo.yaml")
    assert caught.value.detail == "unknown field 'gpuHours' (did you mean 'gpuHour'?)"


def test_catalog_cache_reads_a_shared_catalog_once() -> None:
    cache: dict[Path, LoadedCatalog] = {}
    one = load_policy(POLICIES / "retail-chat.yaml", catalogs=cache)
    two = load_policy(POLICIES / "code-assistant.yaml", catalogs=cache)
    assert one.catalog is two.catalog
    assert list(cache) == [(POLICIES / "catalog.yaml").resolve()]


def test_source_map_falls_back_to_the_nearest_ancestor() -> None:
    source = SourceMap("p.yaml", {(): (1, 1), ("spec",): (3, 1), ("spec", "routes", 0): (5, 7)})
    assert str(source.locate(("spec", "routes", 0, "tiers", 2))) == "p.yaml:5:7"
    assert str(source.locate(("metadata",))) == "p.yaml:1:1"
    assert str(SourceMap("q.yaml").locate(("x",))) == "q.yaml:1:1"


def test_price_table_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="price table not found"):
        load_price_table(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope\n}")
    with pytest.raises(PolicyLoadError) as caught:
        load_price_table(bad)
    assert (caught.value.location.line, caught.value.location.column) == (2, 3)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(PolicyLoadError, match="JSON object"):
        load_price_table(listed)


def test_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml(path)[0] == {"a": 1}
