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


def test_container_bound_counts_only_brackets_outside_strings() -> None:
    # Five real containers, 40 brackets inside strings: the rough count (45) is over the
    # bound, so the exact count decides, and it is within.
    text = '[{"a": "' + "{" * 20 + '"}, {"b": "' + "[" * 20 + '"}, [], {}]'
    assert len(loads_strict(text, max_containers=5)) == 4
    from nexusctl.document.strict_json import JsonTooLargeError

    with pytest.raises(JsonTooLargeError):
        loads_strict(text, max_containers=4)
    with pytest.raises(JsonTooLargeError):
        loads_strict("[[], [], []]", max_containers=3)


@pytest.mark.parametrize(
    "raw",
    [
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte-order mark: json.loads drops it from bytes
        '\ufeff{"a": 1}',  # ... and refuses it in a str
        '{"a": 1}'.encode("utf-16"),  # json.loads detects UTF-16 bytes
        b'{"a": "\xed\xa0\x80"}',  # a surrogate in UTF-8: json.loads passes it through
        b'{"a": "\xc3"}',  # not UTF-8
    ],
)
def test_decoding_is_json_loads_own(raw: str | bytes) -> None:
    import json

    try:
        expected: object = json.loads(raw)
    except ValueError:
        with pytest.raises(JsonLimitError):
            loads_strict(raw)
        return
    assert loads_strict(raw) == expected


def test_one_shared_decoder_is_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    documents = [f'{{"k{i}": [{i}, {{"n": "{i}"}}], "dup": {i}}}' for i in range(2000)]
    with ThreadPoolExecutor(4) as pool:
        parsed = list(pool.map(loads_strict, documents))
    assert parsed == [{f"k{i}": [i, {"n": str(i)}], "dup": i} for i in range(2000)]
    with ThreadPoolExecutor(4) as pool:
        refused = list(pool.map(_refusal, ['{"a": 1, "a": 2}', "[NaN]"] * 500))
    assert set(refused) == {"duplicate key 'a'", "NaN is not JSON (only finite numbers are)"}


def _refusal(text: str) -> str:
    try:
        loads_strict(text)
    except JsonLimitError as exc:
        return str(exc)
    return "accepted"
