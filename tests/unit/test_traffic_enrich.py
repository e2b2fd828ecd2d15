"""Enrichment specs: loading errors with locations, semantics of each draw, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from nexusctl.errors import PolicyLoadError
from nexusctl.traffic.draw import enrich_columns
from nexusctl.traffic.enrich import EnrichmentSpec, load_enrichment, provides

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "traffic"
EXAMPLE = (
    Path(__file__).resolve().parents[2] / "policies" / "nebula" / "enrichment" / "azure-code.yaml"
)


def _spec(attributes: dict[str, object], seed: int = 1) -> EnrichmentSpec:
    return EnrichmentSpec.model_validate(
        {"metadata": {"name": "t", "version": 1}, "spec": {"seed": seed, "attributes": attributes}}
    )


@pytest.mark.parametrize(
    ("name", "where", "fragment"),
    [
        (
            "enrich_bad_unknown_field.yaml",
            ":11:5:",
            "unknown field 'tennant' (did you mean 'tenant'?)",
        ),
        (
            "enrich_bad_rule_order.yaml",
            ":8:3:",
            "app: a rule looks at useCase, which is filled later",
        ),
        ("enrich_bad_data_class.yaml", ":8:3:", "dataClass: unknown value 'secret'"),
        ("enrich_bad_weights.yaml", ":9:5:", "distribution weights must be > 0"),
    ],
)
def test_bad_specs_fail_with_location(name: str, where: str, fragment: str) -> None:
    with pytest.raises(PolicyLoadError) as info:
        load_enrichment(ASSETS / name)
    assert where in str(info.value)
    assert fragment in str(info.value)


def test_example_spec_loads_and_covers_the_azure_gaps() -> None:
    from nexusctl.traffic.importers.azure import NEEDS_ENRICHMENT

    spec, record = load_enrichment(EXAMPLE)
    assert set(NEEDS_ENRICHMENT) <= provides(spec)
    assert record["spec"]["spec"]["seed"] == 20231116
    assert len(record["sha256"]) == 64


def test_distribution_rules_and_otherwise() -> None:
    n = 20_000
    tokens = pa.array(np.where(np.arange(n) % 2 == 0, 100, 10_000), pa.int64())
    spec = _spec(
        {
            "app": {
                "rules": [{"when": {"inputTokens": {"min": 5000}}, "constant": "ci-bot"}],
                "otherwise": {"distribution": {"ide": 3, "web": 1}},
            },
            "useCase": {
                "rules": [{"when": {"app": ["ci-bot"]}, "constant": "agent"}],
                "otherwise": {"constant": "completion"},
            },
            "capabilities": {
                "rules": [{"when": {"useCase": ["agent"]}, "constant": ["tools"]}],
                "otherwise": {"each": {"streaming": 0.5}},
            },
            "complexity": {"fromInputTokens": {"low": 100, "high": 10_000}},
            "cachedShare": {"constant": 0.25},
        }
    )
    out = enrich_columns(spec, {"input_tokens": tokens}, n)
    app = np.array(out["app"].to_pylist())
    big = tokens.to_numpy() >= 5000
    assert (app[big] == "ci-bot").all()
    assert 0.72 < (app[~big] == "ide").mean() < 0.78  # 3:1 weights
    assert set(np.array(out["use_case"].to_pylist())[big]) == {"agent"}
    caps = out["capabilities"].to_pylist()
    assert all(c == ["tools"] for c, b in zip(caps, big, strict=True) if b)
    small_caps = [c for c, b in zip(caps, big, strict=True) if not b]
    assert 0.45 < sum(c == ["streaming"] for c in small_caps) / len(small_caps) < 0.55
    complexity = out["complexity"].to_numpy()
    assert set(complexity[big]) == {1.0}
    assert set(complexity[~big]) == {0.0}
    assert out["cached_input_tokens"].to_pylist()[:2] == [25, 2500]


def test_only_missing_values_are_filled() -> None:
    spec = _spec({"tenant": {"constant": "engineering"}, "confidence": {"beta": {"a": 2, "b": 2}}})
    tenants = pa.array(["wealth", None, "credit-risk"])
    out = enrich_columns(spec, {"tenant": tenants}, 3)
    assert out["tenant"].to_pylist() == ["wealth", "engineering", "credit-risk"]
    assert out["confidence"].null_count == 0


def test_same_seed_same_values_new_seed_differs() -> None:
    attributes = {
        "app": {"distribution": {"a": 1, "b": 1}},
        "complexity": {"beta": {"a": 2, "b": 5}},
    }
    first = enrich_columns(_spec(attributes, 3), {}, 1000)
    second = enrich_columns(_spec(attributes, 3), {}, 1000)
    third = enrich_columns(_spec(attributes, 4), {}, 1000)
    assert first["app"].equals(second["app"])
    assert first["complexity"].equals(second["complexity"])
    assert not first["complexity"].equals(third["complexity"])


def test_adding_an_attribute_does_not_shift_the_others() -> None:
    base = {"complexity": {"beta": {"a": 2, "b": 5}}}
    more = {"app": {"distribution": {"a": 1, "b": 1}}, **base}
    assert enrich_columns(_spec(base), {}, 500)["complexity"].equals(
        enrich_columns(_spec(more), {}, 500)["complexity"]
    )


@pytest.mark.parametrize(
    "attributes",
    [
        {"app": {"constant": "ide", "distribution": {"ide": 1}}},
        {"app": {"rules": [{"when": {"tenant": ["x"]}, "constant": "a"}]}},
        {"complexity": {"uniform": {"low": 0.8, "high": 0.2}}},
        {"complexity": {}},
        {"capabilities": {"each": {"tools": 1.5}}},
        {"app": {"constant": "Not An Identifier"}},
    ],
)
def test_invalid_draws_are_rejected(attributes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        _spec(attributes)
