"""The vectorised router: one Arrow record batch of traffic in, one batch of decisions out.

Columnar NumPy over the batch; Python loops run only over routes, guardrails, escalation
rules, deployments and draft lengths, never over requests. Every per-request value is integer
arithmetic over the same compiled plan (``nexusctl.router.plan``) and integer decode factors
(``nexusctl.decode.factors``) the scalar router uses, with the same evaluation order and
tie-breaks, so the two agree exactly (tests/unit/test_replay_differential.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError, TrafficError
from nexusctl.policy.vocabulary import TIER_ORDER
from nexusctl.router.plan import CompiledMatch, RouterPlan
from nexusctl.traffic.schema import CAPABILITIES, REQUEST_ATTRIBUTES, TOKEN_COLUMNS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from nexusctl.decode.factors import DecodeFactors

#: Capability names in bit order (the traffic table's vocabulary).
CAPABILITY_NAMES: tuple[str, ...] = CAPABILITIES
#: The traffic columns the router reads (their types and rules: nexusctl.traffic.schema).
TRAFFIC_COLUMNS = (
    "request_id",
    *REQUEST_ATTRIBUTES,
    *TOKEN_COLUMNS,
    "capabilities",
    "complexity",
    "confidence",
)
#: String columns the router matches on, read as integer codes.
LABEL_COLUMNS = REQUEST_ATTRIBUTES
_BIG = (1 << 63) - 1
_NO_TIER = len(TIER_ORDER)
#: A row whose float64 upper bound stays below this cannot reach 2^63 - 1 exactly: the float
#: sum of three products errs by far less than the 0.25 % between the two.
_FLOAT_SCREEN = 9.2e18


@dataclass
class _Columns:
    """One batch's columns, as NumPy arrays; label columns as integer codes plus labels."""

    n: int
    request_id: pa.Array
    codes: dict[str, tuple[np.ndarray, list[str]]]
    input_tokens: np.ndarray
    cached: np.ndarray
    output: np.ndarray
    reasoning: np.ndarray
    complexity: np.ndarray
    confidence: np.ndarray  # NaN where null
    has_cap: dict[str, np.ndarray]
    load: np.ndarray
    #: Row number of the batch's first row (0-based), for error messages.
    offset: int = 0
    #: The batch's largest (input, output, reasoning) token counts: the overflow screen.
    token_max: tuple[int, int, int] = (0, 0, 0)


def _numpy(batch: pa.RecordBatch, name: str, offset: int) -> np.ndarray:
    import numpy as np

    column = batch.column(name)
    if column.null_count:
        _bad_rows(column.is_null(), offset, f"{name} is null")
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _bad_rows(mask: Any, offset: int, what: str) -> None:
    import numpy as np

    rows = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(offset + int(r) + 1) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    raise TrafficError(f"traffic rows {shown}{more} (1-based): {what}")


def read_columns(batch: pa.RecordBatch, load: np.ndarray, offset: int) -> _Columns:
    """Extract the columns the router reads from a batch that passed the traffic rules.

    The value rules (token ranges, cached <= input, enumerations, scores in [0, 1]) are the
    traffic table's, applied by the replay's reader (``nexusctl.traffic.schema.require_valid``)
    before this runs; only what extraction itself needs is checked here.

    Raises:
        TrafficError: a missing column or a null.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = [c for c in TRAFFIC_COLUMNS if c not in batch.schema.names]
    if missing:
        raise TrafficError(f"traffic lacks column(s): {', '.join(missing)}")
    n = batch.num_rows
    request_id = batch.column("request_id")
    if not pa.types.is_string(request_id.type):
        request_id = request_id.cast(pa.string())
    if request_id.null_count:
        _bad_rows(request_id.is_null(), offset, "request_id is null")
    codes = {}
    for name in LABEL_COLUMNS:
        column = batch.column(name)
        if column.null_count:
            _bad_rows(column.is_null(), offset, f"{name} is null")
        codes[name] = label_codes(column)
    # Values were checked against the traffic table's rules (token cap included) by the reader
    # that produced the batch (nexusctl.traffic.schema.require_valid); the maxima feed the
    # int64 overflow screen.
    tokens = {
        name: _numpy(batch, name, offset).astype(np.int64, copy=False) for name in TOKEN_COLUMNS
    }
    largest = {name: int(values.max()) if n else 0 for name, values in tokens.items()}
    complexity = _numpy(batch, "complexity", offset).astype(np.float64, copy=False)
    conf_col = batch.column("confidence").cast(pa.float64())
    confidence = pc.fill_null(conf_col, float("nan")).to_numpy(zero_copy_only=False)
    return _Columns(
        n=n,
        request_id=request_id,
        codes=codes,
        input_tokens=tokens["input_tokens"],
        cached=tokens["cached_input_tokens"],
        output=tokens["output_tokens"],
        reasoning=tokens["reasoning_tokens"],
        complexity=complexity,
        confidence=confidence,
        has_cap=_capabilities(batch.column("capabilities"), n, offset),
        load=load,
        offset=offset,
        token_max=(largest["input_tokens"], largest["output_tokens"], largest["reasoning_tokens"]),
    )


def token_maxima(inp: np.ndarray, out: np.ndarray, reasoning: np.ndarray) -> tuple[int, int, int]:
    """The largest input, output and reasoning token counts (0 for no rows)."""
    if not len(inp):
        return 0, 0, 0
    return int(inp.max()), int(out.max()), int(reasoning.max())


def _capabilities(column: pa.Array, n: int, offset: int) -> dict[str, np.ndarray]:
    """Return, per capability name, which rows require it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count:
        _bad_rows(column.is_null(), offset, "capabilities is null (use an empty list)")
    flat = pc.list_flatten(column)
    parents = np.asarray(pc.list_parent_indices(column).to_numpy(zero_copy_only=False))
    codes = pc.index_in(flat, value_set=pa.array(CAPABILITY_NAMES, type=pa.string()))
    if codes.null_count:
        bad = np.zeros(n, dtype=bool)
        bad[parents[np.asarray(codes.is_null().to_numpy(zero_copy_only=False))]] = True
        _bad_rows(bad, offset, f"unknown capability (expected {', '.join(CAPABILITY_NAMES)})")
    code_values = np.asarray(codes.to_numpy(zero_copy_only=False))
    out = {}
    for k, name in enumerate(CAPABILITY_NAMES):
        has = np.zeros(n, dtype=bool)
        has[parents[code_values == k]] = True
        out[name] = has
    return out


def label_codes(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Return a null-free label column as int64 codes and the distinct labels they index.

    A dictionary column (e.g. read with ``read_dictionary``) is used as it is when its
    dictionary has no repeats; anything else is dictionary-encoded here.
    """
    import numpy as np
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        dictionary = column.dictionary
        if not pa.types.is_string(dictionary.type):
            dictionary = dictionary.cast(pa.string())
        labels = dictionary.to_pylist()
        if len(set(labels)) == len(labels):
            indices = column.indices.to_numpy(zero_copy_only=False)
            return np.asarray(indices, dtype=np.int64), labels
        column = column.cast(pa.string())
    elif not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    encoded = column.dictionary_encode()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return np.asarray(indices, dtype=np.int64), encoded.dictionary.to_pylist()


def code_mask(coded: tuple[np.ndarray, list[str]], values: frozenset[str]) -> np.ndarray:
    """Rows whose label is one of ``values`` (a lookup over the labels, not the rows)."""
    import numpy as np

    codes, labels = coded
    lookup = np.array([label in values for label in labels] + [False], dtype=bool)
    result: np.ndarray = lookup[codes]
    return result


def match_mask(match: CompiledMatch | None, cols: _Columns) -> np.ndarray:
    """Evaluate a compiled Match over the batch (the vector form of ``CompiledMatch.matches``)."""
    import numpy as np

    mask = np.ones(cols.n, dtype=bool)
    if match is None:
        return mask
    for name, values in (
        ("tenant", match.tenants),
        ("app", match.apps),
        ("use_case", match.use_cases),
        ("data_class", match.data_classes),
        ("residency_class", match.residency_classes),
        ("risk_class", match.risk_classes),
    ):
        if values is not None:
            mask &= code_mask(cols.codes[name], values)
    if match.capabilities is not None:
        for capability in match.capabilities:
            mask &= cols.has_cap[capability]
    if match.input_min is not None:
        mask &= cols.input_tokens >= match.input_min
    if match.input_max is not None:
        mask &= cols.input_tokens <= match.input_max
    if match.complexity_min is not None:
        mask &= cols.complexity >= match.complexity_min
    if match.complexity_max is not None:
        mask &= cols.complexity <= match.complexity_max
    return mask


@dataclass
class _Choice:
    """The Latency Controller's choice for one deployment over the batch."""

    gamma: np.ndarray
    ttft: np.ndarray
    latency: np.ndarray
    cost: np.ndarray
    slo_met: np.ndarray
    within_cap: np.ndarray


def count_below(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, values, side="left")`` for a short sorted ``edges``.

    One vector comparison per edge: a binary search per value costs more than a few
    comparisons when there are only a handful of edges.
    """
    import numpy as np

    if len(edges) > 16:
        return np.asarray(np.searchsorted(edges, values, side="left"), dtype=np.int64)
    below = np.zeros(len(values), dtype=np.int64)
    for edge in edges.tolist():
        below += values > edge
    return below


def int64_bounds(f: DecodeFactors) -> list[tuple[str, int, int, int, int]]:
    """Linear upper bounds of every intermediate value the decode model computes for ``f``.

    Each entry is ``(what, constant, per input token, per output token, per reasoning
    token)`` with non-negative integer coefficients: for a request, the bound is at least
    every product and partial sum the per-request arithmetic forms (TTFT, latency, cost,
    GPU busy time), whatever the load and draft length. When it fits in int64 the vectorised
    arithmetic is exact, as the scalar router's Python integers are.
    """
    base = max(p.ttft_base_us for p in f.points)
    per_1k = max(p.ttft_per_1k_input_us for p in f.points)
    tpot = max(max(p.tpot_eff_us) for p in f.points)
    # ttft = base + per_1k x input // 1000; the floors only lower what follows, so a ceiling
    # of each coefficient divided by 1000 bounds the sums, and the products come separately.
    bounds = [
        ("TTFT (microseconds)", 0, per_1k, 0, 0),
        ("latency (microseconds)", base, -(-per_1k // 1000), tpot, tpot),
    ]
    if f.pricing_kind == "per_token":
        per_input = max(f.price_input, f.price_cached_input)
        bounds.append(("cost (pico-USD)", 0, per_input, f.price_output, f.price_reasoning))
    elif f.pricing_kind == "gpu_time":
        gpu = max(max(p.gpu_tpot_ns) for p in f.points)
        rate = f.gpu_rate
        per_gen = -(-rate * gpu // 1000)
        bounds += [
            ("GPU busy time (nanoseconds)", 0, 0, gpu, gpu),
            ("cost (pico-USD)", rate * base, -(-rate * per_1k // 1000), per_gen, per_gen),
            ("load divisor", 3600 * max(p.max_load for p in f.points), 0, 0, 0),
        ]
    # Each figure becomes an int64 array element too.
    figures = [per_1k, tpot, f.price_input, f.price_cached_input, f.price_output]
    figures += [f.price_reasoning, f.gpu_rate, max(max(p.gpu_tpot_ns) for p in f.points)]
    bounds.append(("figure (price, rate or time)", max(figures), 0, 0, 0))
    return bounds


def check_int64(
    f: DecodeFactors,
    token_max: tuple[int, int, int],
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: np.ndarray,
    offset: int,
) -> None:
    """Refuse the rows whose predicted latency or cost on ``f`` could leave the int64 range.

    ``tokens`` are the (input, output, reasoning) counts of ``rows`` (indices into the batch
    that starts at row ``offset``); ``token_max`` bounds them (the batch's maxima). The
    common case is one comparison per bound in Python integers; only when the maxima could
    overflow are the rows screened one by one (float64 upper bounds, conservatively).

    Raises:
        TrafficError: a row's arithmetic could wrap (named by its 1-based row number).
        InputError: the deployment's figures overflow whatever the request.
    """
    import numpy as np

    bounds = int64_bounds(f)
    top_in, top_out, top_reasoning = token_max
    if all(c + a * top_in + b * top_out + r * top_reasoning <= _BIG for _, c, a, b, r in bounds):
        return
    for what, c, _, _, _ in bounds:
        if c > _BIG:  # no request needed: the catalog's own figures overflow
            raise InputError(
                f"deployment {f.deployment_id}: its catalog figures alone put the predicted "
                f"{what} beyond the 64-bit range"
            )
    inp, out, reasoning = (np.asarray(t, dtype=np.float64) for t in tokens)
    for what, c, a, b, r in bounds:
        estimate = c + a * inp + b * out + r * reasoning
        bad = estimate >= _FLOAT_SCREEN
        if bad.any():
            _bad_rows(
                np.isin(np.arange(int(rows.max()) + 1), rows[bad]),
                offset,
                f"input_tokens, output_tokens or reasoning_tokens too large for deployment "
                f"{f.deployment_id}: its predicted {what} would exceed the 64-bit range",
            )


def _better(
    mask: np.ndarray, k1: np.ndarray, k2: np.ndarray, b1: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """Rows where (k1, k2) is strictly below the best so far (earlier options win ties)."""
    better: np.ndarray = mask & ((k1 < b1) | ((k1 == b1) & (k2 < b2)))
    return better


def controller(
    plan: RouterPlan,
    dep_index: int,
    cols: _Columns,
    rows: np.ndarray,
    slo_us: np.ndarray,
    cap_pusd: np.ndarray,
    capped: np.ndarray,
) -> _Choice:
    """Vector form of ``nexusctl.decode.model.choose_draft`` for one deployment.

    Evaluated only on ``rows`` (indices of the requests that passed every other hard
    filter); the returned arrays are aligned with ``rows``.
    """
    import numpy as np

    f = plan.deployments[dep_index].factors
    load = cols.load[rows]
    inp = cols.input_tokens[rows]
    out = cols.output[rows]
    reasoning = cols.reasoning[rows]
    slo = slo_us[rows]
    cap = cap_pusd[rows]
    is_capped = capped[rows]
    check_int64(f, cols.token_max, (inp, out, reasoning), rows, cols.offset)
    max_loads = np.array([p.max_load for p in f.points], dtype=np.int64)
    point = np.minimum(count_below(max_loads, load), len(max_loads) - 1)
    base = np.array([p.ttft_base_us for p in f.points], dtype=np.int64)[point]
    per_1k = np.array([p.ttft_per_1k_input_us for p in f.points], dtype=np.int64)[point]
    ttft = base + (per_1k * inp) // 1000
    generated = out + reasoning
    tpot_eff = np.array([p.tpot_eff_us for p in f.points], dtype=np.int64)  # (points, gammas)
    gpu_tpot = np.array([p.gpu_tpot_ns for p in f.points], dtype=np.int64)
    per_token = f.pricing_kind == "per_token"
    if per_token:
        cached = cols.cached[rows]
        flat_cost = (
            (inp - cached) * f.price_input
            + cached * f.price_cached_input
            + out * f.price_output
            + reasoning * f.price_reasoning
        )
    else:
        divisor = 3600 * max_loads[point]

    def option(gamma: int) -> tuple[np.ndarray, np.ndarray]:
        latency = ttft + generated * tpot_eff[point, gamma]
        if per_token:
            return latency, flat_cost
        busy = ttft + (generated * gpu_tpot[point, gamma]) // 1000
        return latency, (f.gpu_rate * busy) // divisor

    m = len(rows)
    if not f.max_draft_tokens:  # one option: gamma = 0
        latency, cost = option(0)
        within = ~is_capped | (cost <= cap)
        return _Choice(np.zeros(m, dtype=np.int64), ttft, latency, cost, latency <= slo, within)
    spec_on = load <= f.disable_above_load
    met_b = (np.full(m, _BIG), np.full(m, _BIG), np.zeros(m, dtype=np.int64))
    fast_b = (np.full(m, _BIG), np.full(m, _BIG), np.zeros(m, dtype=np.int64))
    cheap_b = (np.full(m, _BIG), np.full(m, _BIG), np.zeros(m, dtype=np.int64))
    any_met = np.zeros(m, dtype=bool)
    any_fast = np.zeros(m, dtype=bool)
    # Draft lengths dominated at every latency point can never win (factors.undominated).
    tried = sorted({g for p in f.points for g in p.draft_candidates})
    for gamma in tried:
        allowed = np.ones(m, dtype=bool) if gamma == 0 else spec_on
        latency, cost = option(gamma)
        within = allowed & (~is_capped | (cost <= cap))
        over = allowed & ~within
        met = within & (latency <= slo)
        fast = within & ~met
        for mask, keys, best, seen in (
            (met, (cost, latency), met_b, any_met),
            (fast, (latency, cost), fast_b, any_fast),
            (over, (cost, latency), cheap_b, None),
        ):
            upd = _better(mask, keys[0], keys[1], best[0], best[1])
            # best += (key - best) x upd: a branch-free masked update (keys are >= 0, so
            # key - best never overflows, even from the _BIG start).
            best[0][...] += (keys[0] - best[0]) * upd
            best[1][...] += (keys[1] - best[1]) * upd
            best[2][...] += (gamma - best[2]) * upd
            if seen is not None:
                seen |= mask
    use_fast = ~any_met & any_fast
    use_cheap = ~any_met & ~any_fast
    gamma_out = np.where(any_met, met_b[2], np.where(use_fast, fast_b[2], cheap_b[2]))
    cost_out = np.where(any_met, met_b[0], np.where(use_fast, fast_b[1], cheap_b[0]))
    latency_out = np.where(any_met, met_b[1], np.where(use_fast, fast_b[0], cheap_b[1]))
    slo_met = np.where(use_cheap, latency_out <= slo, any_met)
    return _Choice(gamma_out, ttft, latency_out, cost_out, slo_met, ~use_cheap)
