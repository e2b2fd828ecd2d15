"""RoutingRequest parsing: every problem at once, each at its line and column; strict types;
the exported JSON Schema agrees with the parser on what is required (issue 12, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nexusctl.document.json_marks import json_source_map
from nexusctl.errors import InputError
from nexusctl.policy.request import RoutingRequest, parse_request

REPO = Path(__file__).resolve().parents[2]

BAD = """{
  "app": "web-chat",
  "residencyClass": "eu",
  "inputTokens": "600",
  "outputTokens": true,
  "capabilities": ["tools", "telepathy"],
  "complexity": 1.5,
  "prompt": "hello"
}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_request(text, "request.json")
    message = str(caught.value)
    head, _, listed = message.partition(" invalid field(s): ")
    assert head.startswith("request.json: ")
    items = listed.split("; ")
    assert head.endswith(str(len(items)))
    return items


def test_every_problem_is_named_with_its_line_and_column() -> None:
    assert problems(BAD) == [
        "missing required field 'tenant' (line 1, column 1)",
        "field 'inputTokens': Input should be a valid integer (line 4, column 3)",
        "field 'outputTokens': Input should be a valid integer (line 5, column 3)",
        "field 'capabilities.1': Input should be 'tools', 'json', 'vision', 'audio', "
        "'reasoning', 'streaming' or 'long_context' (line 6, column 29)",
        "field 'complexity': Input should be less than or equal to 1 (line 7, column 3)",
        "unknown field 'prompt' (line 8, column 3)",
    ]


def test_snake_case_names_are_located_as_written() -> None:
    text = (
        '{"tenant": "t", "app": "a",\n "residency_class": "eu", "input_tokens": -1,\n'
        ' "output_tokens": 1}'
    )
    assert problems(text) == [
        "field 'input_tokens': Input should be greater than or equal to 0 (line 2, column 27)"
    ]


def test_an_empty_object_names_all_five_required_fields() -> None:
    listed = problems("{}")
    required = sorted(item.split("'")[1] for item in listed)
    assert required == ["app", "inputTokens", "outputTokens", "residencyClass", "tenant"]
    schema = json.loads((REPO / "schemas" / "RoutingRequest.json").read_text())
    assert sorted(schema["required"]) == required


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("inputTokens", '"600"'),
        ("inputTokens", "true"),
        ("inputTokens", "600.0"),
        ("complexity", '"0.5"'),
        ("capabilities", '"tools"'),
        ("requestId", "7"),
    ],
)
def test_types_are_strict(field: str, value: str) -> None:
    body = {"tenant": "t", "app": "a", "residencyClass": "eu", "inputTokens": 1, "outputTokens": 1}
    text = json.dumps(body)[:-1] + f', "{field}": {value}}}'
    text = text.replace(f'"{field}": 1, ', "") if field == "inputTokens" else text
    (item,) = problems(text)
    assert item.startswith(f"field '{field}'")


def test_the_schema_is_exported_and_documents_every_field() -> None:
    schema = json.loads((REPO / "schemas" / "RoutingRequest.json").read_text())
    assert schema["title"] == "RoutingRequest"
    assert set(schema["properties"]) == {
        info.alias for info in RoutingRequest.model_fields.values()
    }
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    assert schema["additionalProperties"] is False


def test_source_map_locates_nested_values_and_survives_odd_text() -> None:
    text = '\n  {"a": [1, {"b": "x\\"}"}], "c": {}}'
    marks = json_source_map(text, "t").marks
    assert marks[()] == (2, 3)
    assert marks[("a",)] == (2, 4)
    assert marks[("a", 1)] == (2, 13)
    assert marks[("a", 1, "b")] == (2, 14)
    assert marks[("c",)] == (2, 29)
    assert json_source_map('{"a": ', "t").marks[()] == (1, 1)


def test_a_near_limit_request_is_located_in_one_pass() -> None:
    """A 0.9 MiB string with escaped quotes and 20,000 array items: positions stay exact."""
    text = (
        '{"requestId": "'
        + 'a\\"' * 300_000
        + '", "inputTokens": "1", "x": ['
        + ",".join(["1"] * 20_000)
        + "]}"
    )
    listed = problems(text)
    assert "field 'inputTokens': Input should be a valid integer (line 1, column 900019)" in listed
    assert "unknown field 'x' (line 1, column 900039)" in listed
