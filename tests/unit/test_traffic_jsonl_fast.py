"""The DuckDB fast path of the canonical JSON Lines reader: it reads exactly what the exact
reader reads, or declines the block (the exact reader then names each bad line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.traffic.importers._jsonl_fast import DuckLines
from nexusctl.traffic.importers.canonical import _parse_each

_ROW = (
    '{"time":"2026-01-05T09:00:00.032Z","request_id":"r%d","tenant":"t","app":"a",'
    '"input_tokens":%d,"output_tokens":3,"complexity":0.5,"capabilities":["tools","json"],'
    '"small_model_correct":true,"confidence":null}'
)
_T = '{"time":"2026-01-05T09:00:00Z",'

HOSTILE = {
    "unknown key": _T + '"request_id":"x","zz":1}',
    "unknown key, null value": _T + '"request_id":"x","zz":null}',
    "repeated key": _T + '"request_id":"x","request_id":"y"}',
    "repeated key, last null": _T + '"input_tokens":5,"input_tokens":null}',
    "repeated key, first null": _T + '"input_tokens":null,"input_tokens":5}',
    "NaN": _T + '"complexity":NaN}',
    "Infinity": _T + '"complexity":-Infinity}',
    "string for integer": _T + '"input_tokens":"600"}',
    "true for integer": _T + '"input_tokens":true}',
    "true for number": _T + '"complexity":true}',
    "number for string": _T + '"tenant":5}',
    "list for string": _T + '"tenant":["a"]}',
    "huge integer": _T + '"input_tokens":123456789012345678901234567890}',
    "float for integer": _T + '"input_tokens":5.0}',
    "trailing comma": _T + '"input_tokens":5,}',
    "trailing comma, blanks": _T + '"input_tokens":5 , }',
    "depth bomb": _T + '"capabilities":' + "[" * 5000 + "]" * 5000 + "}",
    "number in capabilities": _T + '"capabilities":["a",1]}',
    "null in capabilities": _T + '"capabilities":["a",null]}',
    "blank line": "",
    "blank line of spaces": "   ",
    "escaped quote": _T + '"tenant":"a\\"b"}',
    "exponent overflow": _T + '"complexity":1e400}',
    "not an object": "[1,2]",
    "two objects": _T + '"app":"a"} {"x":1}',
}


def _write(tmp_path: Path, middle: list[str]) -> tuple[Path, bytes]:
    lines = [_ROW % (i, i + 1) for i in range(5)] + middle + [_ROW % (9, 9)]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, path.read_bytes()


@pytest.mark.parametrize("line", HOSTILE.values(), ids=list(HOSTILE))
def test_fast_path_declines_what_it_cannot_prove(tmp_path: Path, line: str) -> None:
    path, block = _write(tmp_path, [line])
    fast = DuckLines(path)
    try:
        assert fast.columns(block, block.count(b"\n")) is None
    finally:
        fast.close()


@pytest.mark.parametrize(
    "middle",
    [
        [],
        [_T + '"input_tokens":4294967296,"request_id":"big"}'],
        [_T + '"input_tokens":-5,"capabilities":[],"large_model_correct":false}'],
        [_T + '"complexity":1e-3,"confidence":2,"request_id":"e"}'],
        [_T + '"tenant":"caf\u00e9 \u2603","small_model_correct":null}'],
    ],
)
def test_fast_path_reads_what_the_exact_reader_reads(tmp_path: Path, middle: list[str]) -> None:
    path, block = _write(tmp_path, middle)
    fast = DuckLines(path)
    try:
        columns = fast.columns(block, block.count(b"\n"))
    finally:
        fast.close()
    assert columns is not None
    exact, errors = _parse_each(path, block.removesuffix(b"\n").split(b"\n"))
    assert not errors
    # A column null on every line counts as absent (the pipeline treats both alike).
    assert sorted(columns) == sorted(n for n, a in exact.items() if a.null_count < len(a))
    for name, array in columns.items():
        assert array.to_pylist() == exact[name].to_pylist(), name
