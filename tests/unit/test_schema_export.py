"""JSON Schema export: byte-stable, in sync with the committed schemas/, and it validates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from nexusctl.document import load_document
from nexusctl.schema import (
    EXPORTED_MODELS,
    exported_models,
    find_drift,
    generate_schemas,
    write_files,
)
from nexusctl.schema.export import DIALECT
from tests.conftest import ASSETS, POLICIES, REPO

SCHEMAS = REPO / "schemas"
EXPORTED = {name for name, _ in EXPORTED_MODELS}


def _kind(path: Path) -> object:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return data.get("kind") if isinstance(data, dict) else None


#: Every example document of an exported kind, anywhere under policies/.
EXAMPLES = sorted(p for p in POLICIES.rglob("*.yaml") if _kind(p) in EXPORTED)


def _yaml_as_json(path: Path) -> Any:
    """Load YAML the way an editor's JSON Schema check sees it: dates stay strings."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    return plain(yaml.safe_load(path.read_text(encoding="utf-8")))


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    write_files(tmp_path, generate_schemas())
    generated = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in SCHEMAS.glob("*.json"))
    assert generated == committed, "run `nexusctl schema export` and commit schemas/"
    for name in generated:
        assert (tmp_path / name).read_bytes() == (SCHEMAS / name).read_bytes(), (
            f"schemas/{name} drifted from the models: run `nexusctl schema export`"
        )


def test_export_is_byte_stable_and_canonically_formatted() -> None:
    first, second = generate_schemas(), generate_schemas()
    assert first == second
    for name, data in first.items():
        assert data.endswith(b"}\n")
        assert not data.endswith(b"\n\n")
        doc = json.loads(data)
        assert (
            json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        ).encode() == data
        assert doc["$schema"] == DIALECT
        assert doc["$id"].endswith(f"/{name}")


def test_every_registered_model_is_exported_under_its_name() -> None:
    names = [name for name, _ in EXPORTED_MODELS]
    assert names[:2] == ["RoutingPolicy", "ModelCatalog"]
    assert sorted(generate_schemas()) == sorted(f"{n}.json" for n in names)


def test_schema_is_pydantic_validation_schema_by_alias() -> None:
    for name, model in exported_models():
        doc = json.loads(generate_schemas()[f"{name}.json"])
        expected = model.model_json_schema(by_alias=True, mode="validation")
        doc.pop("$schema")
        doc.pop("$id")
        assert doc == expected
    routing = _schema("RoutingPolicy")
    assert "apiVersion" in routing["properties"]
    assert "api_version" not in routing["properties"]


def test_registry_takes_one_line_per_new_model(tmp_path: Path) -> None:
    registry = [*EXPORTED_MODELS, ("DocumentMetadata", "nexusctl.document.model:Metadata")]
    files = generate_schemas(registry)
    assert "DocumentMetadata.json" in files
    assert json.loads(files["DocumentMetadata.json"])["title"] == "Metadata"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("X", "nexusctl.policy.routing"), "not 'dotted.module:Class'"),
        (("X", "nexusctl.policy.routing:TIER_ORDER"), "not a pydantic model"),
        (("X", "nexusctl.policy.routing:NoSuchClass"), "not a pydantic model"),
    ],
)
def test_registry_refuses_bad_entries(entry: tuple[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_schemas([entry])


def test_registry_refuses_a_duplicate_name() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        exported_models([EXPORTED_MODELS[0], EXPORTED_MODELS[0]])


def test_find_drift_names_changed_missing_and_stale_files(tmp_path: Path) -> None:
    files = generate_schemas()
    write_files(tmp_path, files)
    assert find_drift(tmp_path, files) == []
    (tmp_path / "RoutingPolicy.json").write_bytes(files["RoutingPolicy.json"] + b" ")
    (tmp_path / "ModelCatalog.json").unlink()
    (tmp_path / "Handwritten.json").write_text("{}\n")
    drift = {(d.file, d.state) for d in find_drift(tmp_path, files)}
    assert drift == {
        ("RoutingPolicy.json", "changed"),
        ("ModelCatalog.json", "missing"),
        ("Handwritten.json", "stale"),
    }


def test_write_files_skips_identical_files(tmp_path: Path) -> None:
    files = generate_schemas()
    assert sorted(write_files(tmp_path, files)) == sorted(files)
    assert write_files(tmp_path, files) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(POLICIES)))
def test_every_example_validates_against_its_exported_schema(path: Path) -> None:
    data = _yaml_as_json(path)
    schema = _schema(data["kind"])
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=str)
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(POLICIES)))
def test_every_example_names_its_schema_for_editors(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    kind = _yaml_as_json(path)["kind"]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = (path.parent / first[len(prefix) :]).resolve()
    assert target == SCHEMAS / f"{kind}.json"


def test_the_examples_cover_every_exported_document_kind_we_ship() -> None:
    kinds = {_kind(p) for p in EXAMPLES}
    assert {"RoutingPolicy", "ModelCatalog"} <= kinds
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(
    ("name", "kind", "needle"),
    [
        ("policy-unknown-field.yaml", "RoutingPolicy", "maxCostUsd"),
        ("catalog-float-price.yaml", "ModelCatalog", "0.15"),
        ("policy-version-zero.yaml", "RoutingPolicy", "0"),
    ],
)
def test_schema_and_model_both_refuse_a_bad_document(name: str, kind: str, needle: str) -> None:
    path = ASSETS / "schema" / name
    data = _yaml_as_json(path)
    errors = list(Draft202012Validator(_schema(kind)).iter_errors(data))
    assert errors, f"the {kind} schema accepted {name}"
    assert any(needle in e.message for e in errors), [e.message for e in errors]
    model = dict(exported_models())[kind]
    from nexusctl.errors import PolicyLoadError

    with pytest.raises(PolicyLoadError):
        load_document(path, model)
