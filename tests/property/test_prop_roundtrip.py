"""Every valid policy and catalog round-trips YAML -> model and canonical JSON -> model unchanged,
and its JSON form validates against the exported JSON Schema.

The strategies are built from the models themselves (field types, annotated-types bounds,
string patterns), so a field added to a model is generated without touching this file. Only
the model validators that tie fields together (ordered ranges, increasing latency loads,
exactly one escalation trigger) need an override below.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from nexusctl.canonical import canonical_bytes
from nexusctl.document import load_document
from nexusctl.policy.catalog import LatencyProfile, ModelCatalog
from nexusctl.policy.routing import EscalationRule, IntRange, RoutingPolicy, ScoreRange
from nexusctl.schema import generate_schemas
from nexusctl.schema._types import Constraints, collect, is_model, union_members, unwrap

MAX_LIST = 3
#: RFC 8785 numbers are IEEE doubles: integers beyond 2^53 are not exactly representable.
MAX_INT = 2**53 - 1
SCHEMAS = {name[: -len(".json")]: json.loads(data) for name, data in generate_schemas().items()}
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
    | st.sampled_from("\n\t"),
    max_size=20,
)


def _for_type(annotation: Any, outer: Constraints | None = None) -> st.SearchStrategy[Any]:
    core, cons = unwrap(annotation)
    if outer is not None:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            if getattr(outer, name) is not None:
                setattr(cons, name, getattr(outer, name))
    if is_model(core):
        return model_strategy(core)
    origin = typing.get_origin(core)
    if origin is Literal:
        return st.sampled_from(typing.get_args(core))
    members = union_members(core)
    if members is not None:
        return st.one_of([_for_type(m, cons) for m in members])
    if core is type(None):
        return st.none()
    if origin is list:
        (item,) = typing.get_args(core)
        low = cons.min_length or 0
        return st.lists(_for_type(item), min_size=low, max_size=max(low, MAX_LIST))
    if origin is dict:
        key, value = typing.get_args(core)
        return st.dictionaries(_for_type(key), _for_type(value), max_size=MAX_LIST)
    if core is bool:
        return st.booleans()
    if core is int:
        low = cons.ge if cons.ge is not None else (cons.gt + 1 if cons.gt is not None else 0)
        high = cons.le if cons.le is not None else (cons.lt - 1 if cons.lt is not None else MAX_INT)
        return st.integers(min_value=low, max_value=min(high, MAX_INT))
    if core is float:
        low = cons.ge if cons.ge is not None else cons.gt
        high = cons.le if cons.le is not None else cons.lt
        return st.floats(
            min_value=low,
            max_value=high,
            exclude_min=cons.gt is not None,
            exclude_max=cons.lt is not None,
            allow_nan=False,
            allow_infinity=False,
        )
    if core is str:
        if cons.pattern:
            return st.from_regex(cons.pattern, fullmatch=True)
        return TEXT.filter(lambda s: len(s) >= (cons.min_length or 0)) if cons.min_length else TEXT
    if core is dt.date:
        return st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31))
    raise NotImplementedError(f"no strategy for {annotation!r}; add one to this test")


def _field(info: FieldInfo) -> st.SearchStrategy[Any]:
    return _for_type(info.annotation, collect(list(info.metadata)))


_OVERRIDES: dict[type[BaseModel], st.SearchStrategy[Any]] = {}


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """A strategy of valid instances of ``model``, derived from its fields."""
    if model in _OVERRIDES:
        return _OVERRIDES[model]
    required = {n: _field(i) for n, i in model.model_fields.items() if i.is_required()}
    optional = {n: _field(i) for n, i in model.model_fields.items() if not i.is_required()}
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda kwargs: model.model_validate(kwargs)
    )


def _ordered_range(model: type[BaseModel], bound: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    pair = st.tuples(st.none() | bound, st.none() | bound)
    return pair.map(
        lambda p: model.model_validate(
            {"min": min(p), "max": max(p)} if None not in p else {"min": p[0], "max": p[1]}
        )
    )


_OVERRIDES[IntRange] = _ordered_range(IntRange, st.integers(0, MAX_INT))
_OVERRIDES[ScoreRange] = _ordered_range(
    ScoreRange, st.floats(0, 1, allow_nan=False, allow_infinity=False)
)


@st.composite
def _latency_profile(draw: st.DrawFn) -> LatencyProfile:
    points = draw(
        st.lists(
            st.fixed_dictionaries({n: _field(i) for n, i in _LATENCY_POINT.model_fields.items()}),
            min_size=1,
            max_size=MAX_LIST,
            unique_by=lambda p: p["max_load"],
        )
    )
    points.sort(key=lambda p: p["max_load"])
    source = draw(st.none() | TEXT)
    return LatencyProfile.model_validate({"points": points, "source": source})


@st.composite
def _escalation_rule(draw: st.DrawFn) -> EscalationRule:
    fields = EscalationRule.model_fields
    trigger = draw(st.sampled_from(["when", "confidence_below", "on_no_eligible"]))
    data = {
        name: draw(_field(info))
        for name, info in fields.items()
        if name not in ("when", "confidence_below", "on_no_eligible")
        and (info.is_required() or draw(st.booleans()))
    }
    data[trigger] = (
        True
        if trigger == "on_no_eligible"
        else draw(_field(fields[trigger]).filter(lambda v: v is not None))
    )
    return EscalationRule.model_validate(data)


_LATENCY_POINT = typing.get_args(LatencyProfile.model_fields["points"].annotation)[0]
_OVERRIDES[LatencyProfile] = _latency_profile()
_OVERRIDES[EscalationRule] = _escalation_rule()

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DOCUMENTS = st.one_of(model_strategy(RoutingPolicy), model_strategy(ModelCatalog))


def _json_form(doc: BaseModel) -> Any:
    return doc.model_dump(mode="json", by_alias=True)


@SETTINGS
@given(doc=DOCUMENTS)
def test_yaml_round_trip_through_the_strict_loader(doc: BaseModel, tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(_json_form(doc), sort_keys=False), encoding="utf-8")
    loaded, _ = load_document(path, type(doc))
    assert loaded == doc


@SETTINGS
@given(doc=DOCUMENTS)
def test_canonical_json_round_trip(doc: BaseModel) -> None:
    data = canonical_bytes(_json_form(doc))
    again = type(doc).model_validate_json(data)
    assert again == doc
    assert canonical_bytes(_json_form(again)) == data


@SETTINGS
@given(doc=DOCUMENTS)
def test_json_form_validates_against_the_exported_schema(doc: BaseModel) -> None:
    schema = SCHEMAS[type(doc).__name__]
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(_json_form(doc))]
    assert errors == []


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_the_strategies_reach_every_field(data: st.DataObject) -> None:
    """Guard the generator itself: a policy with routes and a catalog are both produced."""
    policy = data.draw(model_strategy(RoutingPolicy))
    catalog = data.draw(model_strategy(ModelCatalog))
    assert isinstance(policy, RoutingPolicy)
    assert isinstance(catalog, ModelCatalog)
    assert catalog.spec.deployments
