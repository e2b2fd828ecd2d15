"""The canonical recorded-traffic table (contract A): its one declaration and its checks.

One row per request. ``TRAFFIC`` declares every column once (name, Arrow type, nullable, value
rules); the Arrow schema, the column lists and the row checks every reader applies (importers,
``traffic inspect``, replay, simulate) are derived from it (``nexusctl.tables``).
``validate_rows`` checks a batch against the declared rules plus ``cached_input_tokens <=
input_tokens``; ``validate_table`` adds the whole-table rule (unique ``request_id``). Both
report every bad row with its 1-based row number and, where the source has lines, its line.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any

from nexusctl.policy.vocabulary import MAX_TOKENS, Capability, DataClass, RiskClass
from nexusctl.tables import (
    Column,
    FloatRange,
    IntRange,
    Matches,
    MaxLength,
    OneOf,
    Problem,
    Problems,
    TableSpec,
    TimeRange,
)

__all__ = ["TRAFFIC", "Problem", "Problems", "traffic_schema", "validate_rows", "validate_table"]

#: File-level Parquet key-value metadata key holding the import/enrichment record (JSON).
METADATA_KEY = b"nexusctl.traffic"

DATA_CLASSES: tuple[str, ...] = typing.get_args(DataClass)
RISK_CLASSES: tuple[str, ...] = typing.get_args(RiskClass)
CAPABILITIES: tuple[Capability, ...] = typing.get_args(Capability)


#: Accepted arrival times: from the Unix epoch to the last millisecond Python's datetime, ISO
#: 8601 four-digit years and every reader here can represent. Arrow stores times far outside
#: it (year 0, year 300,000) that no reader can turn back into a date.
MIN_TIME_MS = 0
MAX_TIME_MS = 253_402_300_799_999
TIME_RANGE_TEXT = "1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z"

#: Columns that hold policy identifiers (the RoutingRequest ``Identifier`` pattern).
IDENTIFIER_RE = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
MAX_REQUEST_ID = 200

TIME_RULE = TimeRange(MIN_TIME_MS, MAX_TIME_MS, TIME_RANGE_TEXT)
_IDENTIFIER = Matches(
    IDENTIFIER_RE, "an identifier (lowercase letters, digits, '.', '_' or '-', 1-63 chars)"
)
_TOKENS = IntRange(0, MAX_TOKENS)
_NON_NEGATIVE = IntRange(0, (1 << 63) - 1)
_UNIT = FloatRange(0.0, 1.0)
_HMAC = Matches(r"^[0-9a-f]{64}$", "an HMAC-SHA256 in lowercase hex (64 digits)")

#: Token columns a source may leave unreported (input and output tokens are always required).
UNREPORTABLE_TOKENS: tuple[str, ...] = ("cached_input_tokens", "reasoning_tokens")

#: Contract A, in column order. The one declaration of the traffic table. Labels, classes,
#: model names and user hashes repeat (``repeats``: dictionary-encoded in Parquet); times,
#: ids, token counts and scores are mostly distinct and written plain.
TRAFFIC = TableSpec(
    "traffic",
    (
        Column("time", "timestamp", rules=(TIME_RULE,)),
        Column("request_id", "string", rules=(MaxLength(MAX_REQUEST_ID),)),
        Column("tenant", "string", rules=(_IDENTIFIER,), repeats=True),
        Column("app", "string", rules=(_IDENTIFIER,), repeats=True),
        Column("use_case", "string", rules=(_IDENTIFIER,), repeats=True),
        Column("data_class", "string", rules=(OneOf(DATA_CLASSES),), repeats=True),
        Column("residency_class", "string", rules=(_IDENTIFIER,), repeats=True),
        Column("risk_class", "string", rules=(OneOf(RISK_CLASSES),), repeats=True),
        Column("input_tokens", "int64", rules=(_TOKENS,)),
        Column("cached_input_tokens", "int64", rules=(_TOKENS,)),
        Column("output_tokens", "int64", rules=(_TOKENS,)),
        Column("reasoning_tokens", "int64", rules=(_TOKENS,)),
        Column(
            "capabilities", "list<string>", rules=(OneOf(CAPABILITIES, "capability"),), repeats=True
        ),
        Column("complexity", "float64", rules=(_UNIT,)),
        Column("confidence", "float64", nullable=True, rules=(_UNIT,)),
        Column("observed_model", "string", nullable=True, repeats=True),
        Column("observed_latency_ms", "int64", nullable=True, rules=(_NON_NEGATIVE,)),
        Column("observed_cost_micro_usd", "int64", nullable=True, rules=(_NON_NEGATIVE,)),
        Column("small_model_correct", "bool", nullable=True),
        Column("large_model_correct", "bool", nullable=True),
        # Token counts the source did not report: the count column holds the declared
        # resolution (the format default 0), this list says so (docs/traffic.md).
        Column(
            "unreported_tokens",
            "list<string>",
            nullable=True,
            rules=(OneOf(UNREPORTABLE_TOKENS, "token column"),),
            repeats=True,
        ),
        # What the gateway observed, as the source recorded it (all optional).
        Column("observed_provider", "string", nullable=True, repeats=True),
        Column("observed_model_group", "string", nullable=True, repeats=True),
        Column("observed_deployment_id", "string", nullable=True, repeats=True),
        Column("observed_api_base", "string", nullable=True, repeats=True),
        Column("observed_status", "string", nullable=True, repeats=True),
        Column("observed_cache_hit", "bool", nullable=True),
        Column("observed_response_id", "string", nullable=True),
        Column("observed_finish_reasons", "list<string>", nullable=True, repeats=True),
        Column("service_name", "string", nullable=True, repeats=True),
        Column("session_id", "string", nullable=True),
        # Keyed hashes (HMAC-SHA256, hex) of the end user and the API user: never raw ids.
        Column("end_user_hmac", "string", nullable=True, rules=(_HMAC,), repeats=True),
        Column("user_hmac", "string", nullable=True, rules=(_HMAC,), repeats=True),
    ),
)
COLUMN_NAMES: tuple[str, ...] = TRAFFIC.names
#: The optional columns after the original contract (issue 15): a file written before them is
#: still canonical traffic (every reader fills them with nulls); ``traffic inspect`` reports them
#: when present.
LATER_COLUMNS: tuple[str, ...] = COLUMN_NAMES[COLUMN_NAMES.index("unreported_tokens") :]
BASE_COLUMNS: tuple[str, ...] = COLUMN_NAMES[: COLUMN_NAMES.index("unreported_tokens")]
REQUIRED_COLUMNS: tuple[str, ...] = TRAFFIC.required
TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")
#: The request attributes a policy matches on (``tenant`` .. ``risk_class``), in table order.
REQUEST_ATTRIBUTES: tuple[str, ...] = COLUMN_NAMES[
    COLUMN_NAMES.index("tenant") : COLUMN_NAMES.index("input_tokens")
]

DEFAULT_MAX_PROBLEMS = 20

#: What the importers assume for a column a source does not carry (docs/traffic.md); the Azure
#: trace, which needs an enrichment spec instead, takes only the reasoning-token default. A
#: token count resolved this way is never silent: the row lists it in ``unreported_tokens``,
#: the import warns with the share of rows and records it in the metadata (``not_reported``).
IMPORT_DEFAULTS: dict[str, Any] = {
    "use_case": "general",
    "cached_input_tokens": 0,
    "reasoning_tokens": 0,
    "capabilities": [],
}


def traffic_schema() -> Any:
    """Return the canonical ``pyarrow.Schema`` of recorded traffic (contract A)."""
    return TRAFFIC.arrow_schema()


def __getattr__(name: str) -> Any:
    """``schema.TRAFFIC_SCHEMA`` (contract A's name) builds the schema on first use."""
    if name == "TRAFFIC_SCHEMA":
        return traffic_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validate_rows(batch: Any, lines: Sequence[int] | Any = None, offset: int = 0) -> Problems:
    """Check every row of ``batch`` (rows ``offset + 1 ...``); return its problems.

    The batch may hold any subset of the columns, each of its declared type family (readers
    check the file schema first with ``TRAFFIC.schema_errors``). Checks: non-null required
    columns; every declared rule (time range, enumerations, identifiers, request_id length,
    token counts in [0, MAX_TOKENS], scores in [0, 1], latency and cost >= 0); cached <= input.
    """
    import pyarrow.compute as pc

    problems = TRAFFIC.problems(batch.num_rows, offset)
    TRAFFIC.check_rows(batch, problems, lines)
    names = batch.schema.names
    if "cached_input_tokens" in names and "input_tokens" in names:
        cached = batch.column("cached_input_tokens")
        inputs = batch.column("input_tokens")
        over = pc.fill_null(
            pc.and_(pc.greater(cached, inputs), pc.greater_equal(inputs, 0)), False
        ).to_numpy(zero_copy_only=False)
        if over.any():
            c, i = cached.to_pylist(), inputs.to_pylist()
            problems.add(
                over,
                "cached_input_tokens",
                lambda k: f"{c[k]} exceeds input_tokens {i[k]}",
                lines,
            )
    return problems


def validate_table(table: Any, lines: Sequence[int] | Any = None) -> Problems:
    """Check a whole table (rows as ``validate_rows``) and the table rule: unique request_id.

    The second and later occurrences of a request_id are reported with the row of the first.
    """
    problems = validate_rows(table, lines)
    if table.num_rows and "request_id" in table.schema.names:
        report_duplicates(table.column("request_id"), problems, lines)
    return problems


def report_duplicates(ids: Any, problems: Problems, lines: Any) -> None:
    """Report the second and later occurrence of each request_id (by row order)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
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
    problems.add(
        repeat,
        "request_id",
        lambda i: f"duplicate {ids[i].as_py()!r} (first seen at row {first_row[int(codes[i])]})",
        lines,
    )


def require_valid(batch: Any, offset: int = 0, shown: str = "traffic") -> None:
    """Refuse a batch that breaks the traffic contract: wrong column types or any bad row.

    The check every reader of canonical traffic runs (``traffic inspect``, replay, simulate):
    the same rules as the importers, reported the same way.

    Raises:
        TrafficError: the first problems, each with its 1-based row and column (exit 3).
    """
    from nexusctl.errors import TrafficError

    errors = TRAFFIC.schema_errors(batch.schema, need=())
    if errors:
        raise TrafficError(f"{shown}: not canonical traffic: " + "; ".join(errors))
    problems = validate_rows(batch, offset=offset)
    if problems.bad_rows:
        raise TrafficError(
            problems.summary(shown, DEFAULT_MAX_PROBLEMS),
            hint="re-import the source with `nexusctl traffic import` (it names every bad row)",
        )
