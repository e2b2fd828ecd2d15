"""Declared Arrow tables: one declaration per table, every schema, column list and check derived.

A ``TableSpec`` lists its ``Column``s in order: name, kind (the Arrow type), nullable, and the
value rules a type cannot express (a range, an enumeration, a pattern). From that one
declaration come the Arrow schema (``arrow_schema``), the column lists, the type check a reader
runs on a file's schema before reading it (``check_schema``) and the row check every reader
runs on every batch (``check_rows``), which reports each bad row with its 1-based row number
and column. Tables: traffic (``nexusctl.traffic.schema.TRAFFIC``), decisions
(``nexusctl.replay.schema.DECISIONS``), evidence decision records
(``nexusctl.evidence.table.RECORDS``, its columns derived from the ``DecisionRecord`` model).

Nothing here imports pyarrow at module load (``nexusctl --help`` stays fast).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nexusctl.problems import Problem, Problems

__all__ = [
    "Column",
    "FloatRange",
    "IntRange",
    "Kind",
    "Matches",
    "MaxLength",
    "OneOf",
    "Problem",
    "Problems",
    "Rule",
    "TableSpec",
    "TimeRange",
    "arrow_type",
    "epoch_values",
]

#: Arrow type of each column kind. ``timestamp`` is milliseconds since the epoch, UTC.
Kind = Literal["timestamp", "string", "int64", "int32", "float64", "bool", "list<string>"]


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high]."""

    low: int
    high: int

    def describe(self) -> str:
        return f"an integer in [{self.low}, {self.high}]"


@dataclass(frozen=True)
class FloatRange:
    """A finite number in [low, high] (NaN is outside)."""

    low: float
    high: float

    def describe(self) -> str:
        return f"a number in [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class TimeRange:
    """A time in [low_ms, high_ms], milliseconds since 1970-01-01T00:00:00Z."""

    low_ms: int
    high_ms: int
    shown: str

    def describe(self) -> str:
        return f"a time in {self.shown}"

    def bounds(self, unit: str) -> tuple[int, int]:
        """The bounds as counts of ``unit`` (s, ms, us, ns) since the epoch, clipped to int64."""
        mul, div = _PER_MS[unit]
        low = -((-self.low_ms * mul) // div)  # ceil: the first count not before low_ms
        high = self.high_ms * mul + mul - 1 if div == 1 else self.high_ms // div
        return max(low, _INT64[0]), min(high, _INT64[1])


@dataclass(frozen=True)
class OneOf:
    """One of a fixed vocabulary; on a list column, every element (named ``element``)."""

    values: tuple[str, ...]
    element: str = "value"

    def describe(self) -> str:
        return "one of " + ", ".join(self.values)


@dataclass(frozen=True)
class Matches:
    """A string matching ``pattern`` (a full-match regular expression)."""

    pattern: str
    shown: str

    def describe(self) -> str:
        return self.shown


@dataclass(frozen=True)
class MaxLength:
    """A string of at most ``chars`` characters."""

    chars: int

    def describe(self) -> str:
        return f"at most {self.chars} characters"


Rule = IntRange | FloatRange | TimeRange | OneOf | Matches | MaxLength


@dataclass(frozen=True)
class Column:
    """One declared column: name, kind, nullable, value rules, and whether its values repeat.

    ``repeats``: the column holds few distinct values (labels, classes, model names), so a
    Parquet writer dictionary-encodes it. A column of mostly distinct values (times, ids,
    measurements) is written plain: dictionary-encoding it hashes every value only to fall
    back to plain once the dictionary outgrows its page.
    """

    name: str
    kind: Kind
    nullable: bool = False
    rules: tuple[Rule, ...] = ()
    repeats: bool = False


class TableSpec:
    """An ordered set of declared columns and everything derived from it."""

    def __init__(self, name: str, columns: Sequence[Column]) -> None:
        self.name = name
        self.columns: tuple[Column, ...] = tuple(columns)
        self.names: tuple[str, ...] = tuple(c.name for c in self.columns)
        self.required: tuple[str, ...] = tuple(c.name for c in self.columns if not c.nullable)
        self._by_name = {c.name: c for c in self.columns}

    def column(self, name: str) -> Column:
        """The declared column ``name`` (KeyError if undeclared)."""
        return self._by_name[name]

    def kind(self, name: str) -> Kind:
        """The kind of column ``name``."""
        return self._by_name[name].kind

    def arrow_schema(self) -> Any:
        """Return the ``pyarrow.Schema`` (built once per table)."""
        return _schema(self)

    def dictionary_columns(self) -> list[str]:
        """The Parquet leaf paths of the columns declared ``repeats`` (for ``use_dictionary``).

        A list column's leaf is ``NAME.list.element``: the three-level LIST structure of the
        Parquet format's LogicalTypes.md, which pyarrow writes by default.
        """
        return [
            f"{c.name}.list.element" if c.kind.startswith("list<") else c.name
            for c in self.columns
            if c.repeats
        ]

    def problems(self, n_rows: int, offset: int = 0) -> Problems:
        """An empty problem list for ``n_rows`` rows after ``offset``, ordered by this table."""
        return Problems(n_rows, offset=offset, order=self.names)

    def schema_errors(self, schema: Any, need: Sequence[str] | None = None) -> list[str]:
        """What is wrong with a file's schema: missing columns (of ``need``, default the
        required ones) and declared columns of the wrong type family. Empty when readable.
        """
        wanted = self.required if need is None else tuple(need)
        errors = []
        missing = [n for n in wanted if n not in schema.names]
        if missing:
            errors.append("missing column(s) " + ", ".join(missing))
        for arrow_field in schema:
            declared = self._by_name.get(arrow_field.name)
            if declared is None or _is_null(arrow_field.type):  # all-null: checked per row
                continue
            if not _FAMILY[declared.kind](arrow_field.type):
                errors.append(
                    f"column '{arrow_field.name}' has type {arrow_field.type}, "
                    f"expected {declared.kind}"
                )
        return errors

    def check_rows(self, batch: Any, problems: Problems, lines: Any = None) -> None:
        """Apply every declared rule to the declared columns present in ``batch``.

        Nulls in required columns are "missing value"; a value breaking a rule is reported
        with the rule. Columns must already have their family's type (``schema_errors``).
        """
        present = set(batch.schema.names)
        for declared in self.columns:
            if declared.name not in present:
                continue
            array = _plain(batch.column(declared.name))
            if not declared.nullable and array.null_count:
                mask = array.is_null().to_numpy(zero_copy_only=False)
                problems.add(mask, declared.name, "missing value", lines)
            if _is_null(array.type):
                continue  # no value to check
            for rule in declared.rules:
                _check_rule(declared.name, rule, array, problems, lines)

    def check_values(self, name: str, array: Any, problems: Problems, lines: Any = None) -> Any:
        """Apply column ``name``'s value rules to ``array``; return the mask of bad rows or None.

        For a converter that must null what it reports (rules on nulls are not checked).
        """
        import numpy as np

        if _is_null(array.type):
            return None
        masks = [
            m
            for rule in self._by_name[name].rules
            if (m := _check_rule(name, rule, _plain(array), problems, lines)) is not None
        ]
        return np.logical_or.reduce(masks) if masks else None


@functools.cache
def _schema(spec: TableSpec) -> Any:
    import pyarrow as pa

    return pa.schema(
        [pa.field(c.name, arrow_type(c.kind), nullable=c.nullable) for c in spec.columns]
    )


def arrow_type(kind: Kind) -> Any:
    """The Arrow type of a column kind."""
    import pyarrow as pa

    types: dict[str, Callable[[], Any]] = {
        "timestamp": lambda: pa.timestamp("ms", tz="UTC"),
        "string": pa.string,
        "int64": pa.int64,
        "int32": pa.int32,
        "float64": pa.float64,
        "bool": pa.bool_,
        "list<string>": lambda: pa.list_(pa.string()),
    }
    return types[kind]()


def _is_string(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_null(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_null(t))


def _is_integer(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t))


def _is_number(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_floating(t) or pa.types.is_integer(t))


def _is_time(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_timestamp(t) or pa.types.is_integer(t))


def _is_bool(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_boolean(t))


def _is_string_list(t: Any) -> bool:
    import pyarrow as pa

    if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return False
    return _is_string(t.value_type) or bool(pa.types.is_null(t.value_type))


#: Which Arrow types a reader accepts for each kind (a file need not match the exact type).
_FAMILY: dict[str, Callable[[Any], bool]] = {
    "timestamp": _is_time,
    "string": _is_string,
    "int64": _is_integer,
    "int32": _is_integer,
    "float64": _is_number,
    "bool": _is_bool,
    "list<string>": _is_string_list,
}


def _plain(array: Any) -> Any:
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks()
    return array


def _mask(result: Any) -> Any:
    import pyarrow.compute as pc

    return pc.fill_null(result, False).to_numpy(zero_copy_only=False)


def _on_distinct(array: Any, test: Callable[[Any], Any]) -> Any:
    """Evaluate ``test`` (values -> bool array) once per distinct string, map back to rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    return _mask(pc.take(test(encoded.dictionary), encoded.indices))


def _in_range(values: Any, low: float, high: float) -> bool:
    """Whether every non-null value lies in [low, high] (one min/max pass; NaN is outside)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(values.type) and pc.any(pc.is_nan(values)).as_py():
        return False
    extremes = pc.min_max(values).as_py()
    return extremes["min"] is None or (extremes["min"] >= low and extremes["max"] <= high)


def _holds(rule: Rule, array: Any) -> bool:
    """A cheap pass that proves no row breaks ``rule`` (False: look row by row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(rule, IntRange | FloatRange):
        return _in_range(array, rule.low, rule.high)
    if isinstance(rule, TimeRange):
        counts, unit = epoch_values(array)
        return _in_range(counts, *rule.bounds(unit))
    if isinstance(rule, MaxLength):
        values = array.dictionary if pa.types.is_dictionary(array.type) else array
        longest = pc.max(pc.utf8_length(values)).as_py()
        return longest is None or longest <= rule.chars
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        array = pc.list_flatten(array)
    values = _values(array)  # a dictionary's distinct values, or all of them
    if isinstance(rule, OneOf):
        ok = pc.is_in(values, pa.array(rule.values, pa.string()))
    else:
        ok = pc.match_substring_regex(values, rule.pattern)
    return bool(pc.all(pc.fill_null(ok, True)).as_py())


def _values(array: Any) -> Any:
    """The distinct values of a string column (a dictionary's own, or found by hashing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = array.dictionary if pa.types.is_dictionary(array.type) else pc.unique(array)
    return array if pa.types.is_string(array.type) else array.cast(pa.string())


def _check_rule(name: str, rule: Rule, array: Any, problems: Problems, lines: Any) -> Any:
    """Report the rows of ``array`` that break ``rule``; return their mask (None: none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if _holds(rule, array):
        return None
    if isinstance(rule, IntRange):
        bad = _mask(pc.or_(pc.less(array, rule.low), pc.greater(array, rule.high)))
        if bad.any():
            values = array.to_pylist()
            problems.add(bad, name, lambda i: _int_message(values[i], rule), lines)
    elif isinstance(rule, FloatRange):
        inside = pc.and_(
            pc.greater_equal(array, rule.low), pc.less_equal(array, rule.high)
        )  # NaN compares false: outside
        bad = _mask(pc.and_(pc.invert(inside), array.is_valid()))
        if bad.any():
            values = array.to_pylist()
            problems.add(
                bad,
                name,
                lambda i: f"{float(values[i])!r} is not in [{rule.low:g}, {rule.high:g}]",
                lines,
            )
    elif isinstance(rule, TimeRange):
        millis, unit = epoch_values(array)
        low, high = rule.bounds(unit)
        bad = _mask(pc.or_(pc.less(millis, low), pc.greater(millis, high)))
        if bad.any():
            values = millis.to_pylist()
            problems.add(
                bad,
                name,
                lambda i: f"{values[i]} {unit} since 1970 is outside {rule.shown}",
                lines,
            )
    elif isinstance(rule, OneOf):
        allowed = pa.array(rule.values, pa.string())
        if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            return _check_elements(name, rule, array, problems, lines)
        bad = _on_distinct(array, lambda v: pc.invert(pc.is_in(v.cast(pa.string()), allowed)))
        if bad.any():
            values = array.to_pylist()
            problems.add(
                bad,
                name,
                lambda i: f"unknown value {values[i]!r} (expected {rule.describe()})",
                lines,
            )
    elif isinstance(rule, Matches):
        bad = _on_distinct(
            array, lambda v: pc.invert(pc.match_substring_regex(v.cast(pa.string()), rule.pattern))
        )
        if bad.any():
            values = array.to_pylist()
            problems.add(bad, name, lambda i: f"{values[i]!r} is not {rule.shown}", lines)
    else:
        if pa.types.is_dictionary(array.type):
            too_long = _on_distinct(array, lambda v: pc.greater(pc.utf8_length(v), rule.chars))
        else:  # typically unique values (request ids): measuring beats hashing them
            too_long = _mask(pc.greater(pc.utf8_length(array), rule.chars))
        problems.add(too_long, name, f"longer than {rule.chars} characters", lines)
        return too_long
    return bad


def _int_message(value: int, rule: IntRange) -> str:
    if value < rule.low:
        return f"{value} is negative" if rule.low == 0 else f"{value} is below {rule.low}"
    return f"{value} exceeds {rule.high}"


def _check_elements(name: str, rule: OneOf, array: Any, problems: Problems, lines: Any) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = pc.list_flatten(array)
    if not len(flat):
        return None
    bad_flat = _mask(pc.invert(pc.is_in(flat.cast(pa.string()), pa.array(rule.values))))
    if not bad_flat.any():
        return None
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
    mask = np.zeros(len(array), dtype=bool)
    mask[parents[bad_flat]] = True
    values = array.to_pylist()
    problems.add(
        mask,
        name,
        lambda i: (
            f"unknown {rule.element} in {values[i]!r} (expected any of "
            + ", ".join(rule.values)
            + ")"
        ),
        lines,
    )
    return mask


_PER_MS = {"s": (1, 1000), "ms": (1, 1), "us": (1000, 1), "ns": (1_000_000, 1)}
_INT64 = (-(1 << 63), (1 << 63) - 1)


def epoch_values(array: Any) -> tuple[Any, str]:
    """A time column as int64 counts since the epoch, and their unit (integers: ms)."""
    import pyarrow as pa

    if pa.types.is_timestamp(array.type):
        return array.cast(pa.int64()), array.type.unit
    return array, "ms"
