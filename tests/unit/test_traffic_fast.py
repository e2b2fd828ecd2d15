"""The fast text conversions accept only what the exact path accepts, with the same values.

Every short string over each fast path's character set is converted both ways (the exact path
with the fast one switched off); wherever the fast path answers, its answer must equal the
exact path's, and the exact path must have found no problem in that value.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from nexusctl.traffic import _coerce, _fast
from nexusctl.traffic.schema import MAX_TIME_MS, MIN_TIME_MS, TRAFFIC


def _exact(name: str, values: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    with monkeypatch.context() as patch:
        for fn in ("integers", "floats", "times", "capability_lists"):
            patch.setattr(_fast, fn, lambda *_: None)
        problems = TRAFFIC.problems(len(values))
        out = _coerce.coerce_column(name, pa.array(values, pa.string()), problems, None)
    return out, problems.total


def _strings(chars: str, longest: int) -> list[str]:
    return ["".join(p) for n in range(1, longest + 1) for p in itertools.product(chars, repeat=n)]


@pytest.mark.parametrize(
    ("name", "fast", "chars", "longest"),
    [
        ("input_tokens", _fast.integers, "09-+x ", 4),
        ("complexity", _fast.floats, "09.eE+-n", 4),
    ],
)
def test_numbers_agree_with_the_exact_path(
    name: str,
    fast: Callable[[Any], Any],
    chars: str,
    longest: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accepted = 0
    for value in _strings(chars, longest):
        got = fast(pa.array([value], pa.string()))
        if got is None:
            continue
        accepted += 1
        expected, problems = _exact(name, [value], monkeypatch)
        assert problems == 0, value
        assert got.equals(expected), value
    assert accepted > 10  # the fast path does take the plain values


def test_a_column_with_one_bad_value_takes_the_exact_path() -> None:
    assert _fast.integers(pa.array(["12", "0x10"])) is None  # Arrow alone would read 16
    assert _fast.integers(pa.array(["12", "+5"])) is None
    assert _fast.integers(pa.array(["1" * 19])) is None  # over 18 digits
    assert _fast.floats(pa.array(["0.5", "nan"])) is None
    assert _fast.floats(pa.array(["0.5", "1e400"])) is None  # inf
    assert _fast.floats(pa.array(["0.5", None])) is None
    assert _fast.capability_lists(pa.array(["tools", "json ;vision"])) is None  # to trim


TIMES = [
    ["2026-01-05T09:00:00.003Z", "2026-01-05 09:00:00.250Z"],
    ["2026-01-05T09:00:00Z", "1970-01-01T00:00:00Z"],
    ["2026-01-05T09:00:00", "2026-01-05T09:00:01"],
    ["2026-01-05T09:00:00.123456789Z", "2026-12-31T23:59:59.999999999Z"],
    ["2026-01-05T09:00:00.1", "2026-01-05T09:00:00.9"],
]
REFUSED = [
    ["2026-01-05T09:00:00.003z"],  # lowercase z: the exact path's business
    ["2026-02-30T09:00:00.003Z"],  # not a date
    ["2026-01-05T24:00:00.000Z"],
    ["2026-01-05T09:00:00.Z"],
    ["2026-01-05T09:00:00.003+01:00"],
    ["1969-12-31T23:59:59.999Z"],  # before the accepted range
    ["2300-01-05T09:00:00.000Z"],  # beyond nanosecond timestamps
    ["2026-01-05T09:00:00.003Z", "2026-01-05T09:00:00.03Z"],  # mixed widths
    ["2026-01-05T09:00:00Z", "2026-01-05T09:00:001"],  # Z on some rows only
    ["2026-01-05X09:00:00Z"],
    ["20260105T090000.000000Z"],
]


@pytest.mark.parametrize("values", TIMES)
def test_times_agree_with_the_exact_path(
    values: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    got = _fast.times(pa.array(values), MIN_TIME_MS, MAX_TIME_MS)
    assert got is not None
    expected, problems = _exact("time", values, monkeypatch)
    assert problems == 0
    assert got.equals(expected)


@pytest.mark.parametrize("values", REFUSED)
def test_times_the_fast_path_leaves_to_the_exact_one(values: list[str]) -> None:
    assert _fast.times(pa.array(values), MIN_TIME_MS, MAX_TIME_MS) is None


def test_capability_lists_agree_with_the_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    values = ["", "tools", "tools;json", "", ";", "vision;;json", "streaming"]
    got = _fast.capability_lists(pa.array(values))
    expected, _ = _exact("capabilities", values, monkeypatch)
    assert got is not None
    assert got.to_pylist() == expected.to_pylist()
    assert got.type == expected.type


def test_strings_skip_the_trim_only_when_trimming_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every short string over characters that trimming or blank-to-null treats specially.
    values = _strings("a \t\u00a0", 3)
    for value in values:
        array = pa.array([value, "plain", None], pa.string())
        if _fast.trimmed(array):
            with monkeypatch.context() as patch:
                patch.setattr(_fast, "trimmed", lambda _: False)
                exact = _coerce._blank_to_null(array)
            assert exact.to_pylist() == array.to_pylist(), value
    assert _fast.trimmed(pa.array(["a", None, "b-1"], pa.string()))
    for changed in (" a", "a ", "", "\u00a0a", "a\u2003", "\ta"):
        assert not _fast.trimmed(pa.array(["ok", changed], pa.string())), repr(changed)
