"""The canonical recorded-traffic table (contract A) and the validator every importer shares.

One row per request. ``traffic_schema()`` builds the Arrow schema lazily so importing this
module does not import pyarrow (``nexusctl --help`` stays fast). ``validate_table`` checks a
typed table against the rules the schema cannot express (enumerations, ranges,
``cached_input_tokens <= input_tokens``, unique ``request_id``) and reports every bad row with
its 1-based row number and, where the source has lines, its source line.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nexusctl.policy.vocabulary import Capability, DataClass, RiskClass

#: File-level Parquet key-value metadata key holding the import/enrichment record (JSON).
METADATA_KEY = b"nexusctl.traffic"

DATA_CLASSES: tuple[str, ...] = typing.get_args(DataClass)
RISK_CLASSES: tuple[str, ...] = typing.get_args(RiskClass)
CAPABILITIES: tuple[Capability, ...] = typing.get_args(Capability)

#: (name, arrow type name, nullable) in contract order; the types are built in traffic_schema().
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("time", "timestamp", False),
    ("request_id", "string", False),
    ("tenant", "string", False),
    ("app", "string", False),
    ("use_case", "string", False),
    ("data_class", "string", False),
    ("residency_class", "string", False),
    ("risk_class", "string", False),
    ("input_tokens", "int64", False),
    ("cached_input_tokens", "int64", False),
    ("output_tokens", "int64", False),
    ("reasoning_tokens", "int64", False),
    ("capabilities", "list<string>", False),
    ("complexity", "float64", False),
    ("confidence", "float64", True),
    ("observed_model", "string", True),
    ("observed_latency_ms", "int64", True),
    ("observed_cost_micro_usd", "int64", True),
    ("small_model_correct", "bool", True),
    ("large_model_correct", "bool", True),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(name for name, _, nullable in COLUMNS if not nullable)
COLUMN_KIND: dict[str, str] = {name: kind for name, kind, _ in COLUMNS}

#: Upper bound on any token count: far above any context window, far below int64 overflow
#: when multiplied by a price in micro-USD per Mtok (pico-USD arithmetic stays exact).
MAX_TOKENS = 1 << 40

DEFAULT_MAX_PROBLEMS = 20
#: Problems kept per rule (every bad row is still counted and marked).
MAX_KEPT_PER_RULE = 1000

#: Columns that hold policy identifiers (the RoutingRequest ``Identifier`` pattern).
IDENTIFIER_COLUMNS = ("tenant", "app", "use_case", "residency_class")
IDENTIFIER_RE = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
MAX_REQUEST_ID = 200


@functools.cache
def traffic_schema() -> Any:
    """Return the canonical ``pyarrow.Schema`` of recorded traffic (contract A)."""
    import pyarrow as pa

    types = {
        "timestamp": pa.timestamp("ms", tz="UTC"),
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "list<string>": pa.list_(pa.string()),
    }
    return pa.schema(
        [pa.field(name, types[kind], nullable=nullable) for name, kind, nullable in COLUMNS]
    )


def __getattr__(name: str) -> Any:
    """``schema.TRAFFIC_SCHEMA`` (contract A's name) builds the schema on first use."""
    if name == "TRAFFIC_SCHEMA":
        return traffic_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Problem:
    """One reason a row is invalid: 1-based row number, source line if known, column, what."""

    row: int
    column: str
    message: str
    #: Source line (CSV, JSON Lines), or a locator string such as ``span <traceId>/<spanId>``.
    line: int | str | None = None

    def __str__(self) -> str:
        if self.line is None:
            return f"row {self.row}: {self.column}: {self.message}"
        shown = f"line {self.line}" if isinstance(self.line, int) else self.line
        where = f"row {self.row} ({shown})"
        return f"{where}: {self.column}: {self.message}"


@dataclass
class Problems:
    """Bad rows found so far: a boolean mask over the rows and every problem, in row order."""

    n_rows: int
    items: list[Problem] = field(default_factory=list)
    bad: Any = None  # numpy bool array of length n_rows
    total: int = 0  # problems found, including those not kept in ``items``

    def __post_init__(self) -> None:
        import numpy as np

        if self.bad is None:
            self.bad = np.zeros(self.n_rows, dtype=bool)

    def add(self, mask: Any, column: str, message: Any, lines: Any = None) -> None:
        """Mark rows where ``mask`` holds as bad; ``message`` is a string or ``f(index) -> str``."""
        import numpy as np

        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if rows.size == 0:
            return
        self.bad[rows] = True
        self.total += int(rows.size)
        # Keep the first rows of each rule only: the report lists the first problems by row,
        # which are always among them, and a file of millions of bad rows stays cheap.
        for index in rows[:MAX_KEPT_PER_RULE].tolist():
            text = message(index) if callable(message) else message
            line = None if lines is None else _line(lines[index])
            self.items.append(Problem(index + 1, column, text, line))

    @property
    def bad_rows(self) -> int:
        """How many rows have at least one problem."""
        return int(self.bad.sum())

    def sorted(self) -> list[Problem]:
        """Every problem ordered by row, then column order of the schema."""
        order = {name: i for i, name in enumerate(COLUMN_NAMES)}
        # Row-level problems (unreadable record, bad metadata) come first within a row.
        return sorted(self.items, key=lambda p: (p.row, order.get(p.column, -1), p.message))

    def summary(self, source: str, limit: int = DEFAULT_MAX_PROBLEMS) -> str:
        """A multi-line report: how many rows are bad and the first ``limit`` problems."""
        shown = self.sorted()[:limit]
        lines = [f"{source}: {self.bad_rows} invalid row(s) of {self.n_rows}:"]
        lines += [f"  {p}" for p in shown]
        rest = max(self.total, len(self.items)) - len(shown)
        if rest > 0:
            lines.append(f"  ... and {rest} more problem(s)")
        return "\n".join(lines)


def _line(value: Any) -> int | str:
    return value if isinstance(value, str) else int(value)


def validate_table(table: Any, lines: Sequence[int] | Any = None) -> Problems:
    """Check a table that already has the canonical schema; return every row-level problem.

    ``lines`` (optional, one per row) are the source line numbers used in the messages.
    Checks: non-null required columns; enumerations (data_class, risk_class, capabilities);
    identifiers (tenant, app, use_case, residency_class); request_id length; token ranges;
    cached <= input; complexity and confidence in [0, 1]; latency and cost >= 0; unique
    request_id (the second and later occurrences are reported).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    expected = [(f.name, f.type) for f in traffic_schema()]
    if [(f.name, f.type) for f in table.schema] != expected:
        raise ValueError("validate_table needs the canonical columns and types (contract A)")
    n = table.num_rows
    problems = Problems(n)

    def col(name: str) -> Any:
        return table.column(name).combine_chunks() if n else table.column(name)

    for name in REQUIRED_COLUMNS:
        nulls = col(name).is_null().to_numpy(zero_copy_only=False)
        problems.add(nulls, name, "missing value", lines)

    def values_of(name: str) -> Any:
        return col(name).to_pylist()

    for name, allowed in (("data_class", DATA_CLASSES), ("risk_class", RISK_CLASSES)):
        column = col(name)
        bad = pc.invert(pc.is_in(column, value_set=pa.array(allowed)))
        bad = pc.and_(bad, column.is_valid()).to_numpy(zero_copy_only=False)
        if bad.any():
            vals = values_of(name)
            problems.add(
                bad,
                name,
                lambda i, v=vals, a=allowed: (
                    f"unknown value {v[i]!r} (expected one of " + ", ".join(a) + ")"
                ),
                lines,
            )

    for name in IDENTIFIER_COLUMNS:
        # Match the distinct values once, then map back: identifiers repeat a lot.
        encoded = pc.dictionary_encode(col(name))
        ok = pc.match_substring_regex(encoded.dictionary, IDENTIFIER_RE)
        bad = pc.invert(pc.fill_null(pc.take(ok, encoded.indices), True))
        bad_np = bad.to_numpy(zero_copy_only=False)
        if bad_np.any():
            vals = values_of(name)
            problems.add(
                bad_np,
                name,
                lambda i, v=vals: (
                    f"{v[i]!r} is not an identifier "
                    "(lowercase letters, digits, '.', '_' or '-', 1-63 chars)"
                ),
                lines,
            )
    too_long = pc.fill_null(pc.greater(pc.utf8_length(col("request_id")), MAX_REQUEST_ID), False)
    problems.add(
        too_long.to_numpy(zero_copy_only=False),
        "request_id",
        f"longer than {MAX_REQUEST_ID} characters",
        lines,
    )

    caps = col("capabilities")
    flat = pc.list_flatten(caps)
    if len(flat):
        bad_flat = pc.invert(pc.fill_null(pc.is_in(flat, value_set=pa.array(CAPABILITIES)), False))
        bad_flat_np = bad_flat.to_numpy(zero_copy_only=False)
        if bad_flat_np.any():
            parents = pc.list_parent_indices(caps).to_numpy(zero_copy_only=False)
            mask = np.zeros(n, dtype=bool)
            mask[parents[bad_flat_np]] = True
            vals = values_of("capabilities")
            problems.add(
                mask,
                "capabilities",
                lambda i, v=vals: (
                    "unknown capability in "
                    + repr(v[i])
                    + " (expected any of "
                    + ", ".join(CAPABILITIES)
                    + ")"
                ),
                lines,
            )

    for name in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens"):
        arr = col(name).fill_null(0).to_numpy()
        problems.add(arr < 0, name, lambda i, a=arr: f"{int(a[i])} is negative", lines)
        problems.add(arr > MAX_TOKENS, name, lambda i, a=arr: f"{a[i]} exceeds {MAX_TOKENS}", lines)
    cached = col("cached_input_tokens").fill_null(0).to_numpy()
    inputs = col("input_tokens").fill_null(0).to_numpy()
    problems.add(
        (cached > inputs) & (inputs >= 0),
        "cached_input_tokens",
        lambda i: f"{int(cached[i])} exceeds input_tokens {int(inputs[i])}",
        lines,
    )
    for name in ("complexity", "confidence"):
        arr = col(name).fill_null(0.0).to_numpy()
        outside = ~((arr >= 0.0) & (arr <= 1.0))  # NaN is outside too
        problems.add(outside, name, lambda i, a=arr: f"{float(a[i])!r} is not in [0, 1]", lines)
    for name in ("observed_latency_ms", "observed_cost_micro_usd"):
        arr = col(name).fill_null(0).to_numpy()
        problems.add(arr < 0, name, lambda i, a=arr: f"{int(a[i])} is negative", lines)

    if n:
        ids = col("request_id")
        _report_duplicates(ids, problems, lines)
    return problems


def _report_duplicates(ids: Any, problems: Problems, lines: Any) -> None:
    """Report the second and later occurrence of each request_id (by row order)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = ids.is_valid().to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(ids.fill_null(""))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(encoded.dictionary) == len(codes):
        return
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    repeat = np.zeros(len(codes), dtype=bool)
    repeat[order[1:]] = sorted_codes[1:] == sorted_codes[:-1]
    repeat &= valid
    if not repeat.any():
        return
    starts = np.ones(len(codes), dtype=bool)
    starts[1:] = sorted_codes[1:] != sorted_codes[:-1]
    first_row = np.zeros(len(encoded.dictionary), dtype=np.int64)
    first_row[sorted_codes[starts]] = order[starts] + 1
    values = pa.array(ids).to_pylist()
    problems.add(
        repeat,
        "request_id",
        lambda i: f"duplicate {values[i]!r} (first seen at row {first_row[int(codes[i])]})",
        lines,
    )
