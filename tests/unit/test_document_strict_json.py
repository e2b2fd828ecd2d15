"""The strict JSON reader: bounded nesting, I-JSON integers, finite numbers, unique keys."""

from __future__ import annotations

import pytest

from nexusctl.document.strict_json import MAX_SAFE_INTEGER, JsonLimitError, loads_strict


def test_plain_json_reads_as_json_does() -> None:
    text = '{"a": [1, 2.5, -3, true, null, "x[{"], "b": {"c": "]]}}"}}'
    assert loads_strict(text) == {"a": [1, 2.5, -3, True, None, "x[{"], "b": {"c": "]]}}"}}
    assert loads_strict(text.encode()) == loads_strict(text)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
        ("[" * 100_000, "nested deeper than 32 levels"),
        ("[" * 33 + "]" * 33, "nested deeper than 32 levels"),
        ("1" * 5000, "(5000 digits) is outside"),
        (str(MAX_SAFE_INTEGER + 1), "is outside ±(2^53-1)"),
        ("-" + str(MAX_SAFE_INTEGER + 1), "is outside ±(2^53-1)"),
        ("1e400", "number 1e400 is too large"),
        ("[NaN]", "NaN is not JSON"),
        ("[-Infinity]", "-Infinity is not JSON"),
        ('{"k": 1, "k": 2}', "duplicate key 'k'"),
        ('{"k": 1,}', "not JSON"),
        (b"\xff\xfe\x00", "not"),
    ],
)
def test_hostile_json_is_refused_with_a_reason(raw: str | bytes, message: str) -> None:
    with pytest.raises(JsonLimitError) as caught:
        loads_strict(raw)
    assert message in str(caught.value)


def test_depth_limit_is_exact_and_ignores_brackets_in_strings() -> None:
    assert loads_strict("[" * 32 + "]" * 32) is not None
    assert loads_strict('["' + "[" * 100 + '"]') == ["[" * 100]
    assert loads_strict(str(MAX_SAFE_INTEGER)) == MAX_SAFE_INTEGER


def test_syntax_errors_carry_a_location() -> None:
    with pytest.raises(JsonLimitError) as caught:
        loads_strict('{\n  "a": ,\n}')
    assert (caught.value.line, caught.value.column) == (2, 8)


@pytest.mark.parametrize(
    "inner",
    ['"\\\\"', '"\\"[[[["', '"\\\\\\"[[[["', '"a\\\\\\\\"', '"\\u005b[[["', '"]]]]}}}}"'],
)
def test_escaped_quotes_and_backslashes_do_not_fool_the_depth_scan(inner: str) -> None:
    text = "[" * 31 + inner + "]" * 31
    assert loads_strict(text) is not None
    with pytest.raises(JsonLimitError, match="nested deeper"):
        loads_strict("[" * 33 + inner + "]" * 33)
