"""The generated policy reference: in sync with the models, and it documents every field."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, Field

from nexusctl.schema import EXPORTED_MODELS, render_reference
from nexusctl.schema._registry import exported_models
from nexusctl.schema.reference import _walk
from tests.conftest import REPO

REFERENCE = REPO / "docs" / "policy-reference.md"


def test_committed_reference_matches_the_models() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        "docs/policy-reference.md drifted from the models: run `nexusctl schema docs`"
    )


def test_reference_is_deterministic() -> None:
    assert render_reference() == render_reference()


def _section(text: str, model: type[BaseModel]) -> str:
    match = re.search(rf"^### {model.__name__}\n(.*?)(?=^### |\Z)", text, re.S | re.M)
    assert match, f"no section for {model.__name__}"
    return match.group(1)


@pytest.mark.parametrize("name", [n for n, _ in EXPORTED_MODELS])
def test_every_nested_model_and_field_has_a_row(name: str) -> None:
    text = render_reference()
    root = dict(exported_models())[name]
    for model in _walk(root):
        section = _section(text, model)
        for field_name, info in model.model_fields.items():
            yaml_name = info.alias or field_name
            rows = [line for line in section.splitlines() if line.startswith(f"| `{yaml_name}` |")]
            assert len(rows) == 1, f"{model.__name__}.{yaml_name}"
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", rows[0])[1:-1]]
            assert len(cells) == 4, rows[0]
            assert all(cells), rows[0]
            assert cells[2].startswith("required" if info.is_required() else "optional")


def test_rows_show_alias_type_default_and_description() -> None:
    text = render_reference()
    assert (
        "| `sloMs` | integer (≥ 1) | required | Latency SLO for the whole response, milliseconds. |"
        in text
    )
    assert (
        "| `cachedInput` | integer (≥ 0) or null | optional "
        "| Cached input tokens; absent means billed as input. |" in text
    )
    assert '| `format` | `"litellm"` | optional (default: `"litellm"`) |' in text
    assert (
        '| `tiers` | list of `"small"` \\| `"mid"` \\| `"frontier"` (at least 1) | required |'
        in text
    )


class _Inner(BaseModel):
    """Inner part."""

    flag: bool = False


class _Documented(BaseModel):
    """A model for the reference test."""

    count: int = Field(default=3, ge=1, le=9, description="How many | pipes <b>.")
    inner: _Inner
    items: list[_Inner] = Field(default_factory=list)


def test_missing_descriptions_are_derived_from_the_type_and_cells_are_escaped() -> None:
    text = render_reference([("Documented", f"{__name__}:_Documented")])
    assert (
        "| `count` | integer (≥ 1, ≤ 9) | optional (default: `3`) | How many \\| pipes &lt;b>. |"
        in text
    )
    assert "| `inner` | [_Inner](#_inner) | required | *Inner part.* |" in text
    assert (
        "| `items` | list of [_Inner](#_inner) | optional (default: `[]`) "
        "| *Each item: inner part.* |" in text
    )
    assert "| `flag` | boolean | optional (default: `false`) | *A yes/no switch.* |" in text
