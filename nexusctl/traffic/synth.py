"""Seeded synthetic traffic: a realistic, bursty, heavy-tailed mix over the Nebula policies.

Everything is vectorised NumPy over batches of ``BATCH_ROWS`` rows drawn from one
``Generator(PCG64(seed))`` stream, so the same (rows, seed, rate, start, segments) always gives
the same table, and 10M rows are produced in bounded memory (one batch at a time).

The mix is a list of *segments* (tenant, app and the distributions of every attribute). The
built-in ``NEBULA_SEGMENTS`` exercise every route of the three example policies, their
guardrails, the vision route, high-risk and low-confidence escalations, and requests nothing
can serve (an unknown residency class ``us``, the ``audio`` capability no deployment offers, a
tenant no policy declares). ``segments_from_policies`` derives from any policies a mix in which
every route receives traffic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from nexusctl.traffic.schema import CAPABILITIES, DATA_CLASSES

#: Rows per generated batch (and Parquet row group): bounds memory for any row count.
BATCH_ROWS = 1 << 18
#: 2026-01-05T09:00:00Z (a Monday morning), Unix epoch milliseconds.
DEFAULT_START_MS = 1_767_603_600_000
DEFAULT_RATE = 20.0
#: Arrivals come in blocks that share one rate multiplier (a Cox process): bursty load.
BURST_BLOCK_ROWS = 256
BURST_SIGMA = 0.8
MAX_INPUT_TOKENS = 400_000
MAX_OUTPUT_TOKENS = 32_000
LONG_CONTEXT_TOKENS = 100_000


@dataclass(frozen=True)
class Segment:
    """One population of requests: who sends them and how their attributes are distributed.

    Token counts are lognormal (``mu``/``sigma`` of the natural log); complexity is
    Beta(a, b); confidence, when present (share ``confidence_share``), is Beta(a, b) shrunk by
    complexity; cached input, with probability ``cached_prob``, is a Beta(5, 2) share of input.
    """

    name: str
    weight: float
    tenant: str
    app: str
    use_cases: dict[str, float]
    data_classes: dict[str, float]
    residency: dict[str, float]
    risk: dict[str, float] = field(
        default_factory=lambda: {"low": 0.9, "medium": 0.09, "high": 0.01}
    )
    capabilities: dict[str, float] = field(default_factory=dict)
    input_lognormal: tuple[float, float] = (6.5, 1.0)
    output_lognormal: tuple[float, float] = (5.0, 0.8)
    complexity_beta: tuple[float, float] = (2.0, 5.0)
    confidence_share: float = 0.5
    confidence_beta: tuple[float, float] = (8.0, 2.0)
    cached_prob: float = 0.3
    #: Input tokens clipped into [low, high] (a route's ``inputTokens`` range; None = open).
    input_range: tuple[int | None, int | None] | None = None
    #: Complexity drawn inside [low, high] (a route's ``complexity`` range), Beta-shaped.
    complexity_range: tuple[float, float] | None = None


# Input/output lognormals of the code segments are fitted to the Azure 2023 code trace
# (log ContextTokens: mean 7.00, sd 1.36; log GeneratedTokens: mean 2.79, sd 0.85).
NEBULA_SEGMENTS: tuple[Segment, ...] = (
    Segment(
        "retail-chat",
        0.30,
        "retail-banking",
        "mobile-chat",
        {"faq": 0.35, "advice": 0.30, "account-help": 0.20, "general": 0.15},
        {"public": 0.30, "internal": 0.25, "confidential": 0.40, "restricted": 0.05},
        {"eu": 0.85, "ca": 0.15},
        {"low": 0.85, "medium": 0.14, "high": 0.01},
        {"streaming": 0.6, "json": 0.05, "audio": 0.002},
        (6.2, 0.9),
        (5.0, 0.7),
        (2.0, 5.0),
    ),
    Segment(
        "retail-statements",
        0.04,
        "retail-banking",
        "statement-upload",
        {"general": 0.6, "account-help": 0.4},
        {"confidential": 0.8, "restricted": 0.2},
        {"eu": 0.9, "ca": 0.1},
        {"low": 0.9, "medium": 0.1},
        {"vision": 1.0, "json": 0.5},
        (7.5, 0.6),
        (5.5, 0.5),
        (3.0, 4.0),
    ),
    Segment(
        "wealth-advice",
        0.08,
        "wealth",
        "advisor-desk",
        {"advice": 0.6, "account-help": 0.2, "general": 0.2},
        {"internal": 0.3, "confidential": 0.6, "restricted": 0.1},
        {"eu": 0.7, "ca": 0.3},
        {"low": 0.6, "medium": 0.35, "high": 0.05},
        {"streaming": 0.5, "tools": 0.1, "reasoning": 0.05},
        (7.0, 1.0),
        (5.6, 0.7),
        (3.0, 3.0),
    ),
    Segment(
        "credit-underwriting",
        0.12,
        "credit-risk",
        "underwriting-workbench",
        {"memo": 0.5, "summarise": 0.3, "general": 0.2},
        {"internal": 0.1, "confidential": 0.6, "restricted": 0.3},
        {"eu": 0.98, "us": 0.02},
        {"low": 0.45, "medium": 0.40, "high": 0.15},
        {"json": 0.3, "reasoning": 0.1},
        (8.0, 0.8),
        (6.0, 0.6),
        (4.0, 3.0),
        confidence_share=1.0,
        confidence_beta=(9.0, 2.0),
        cached_prob=0.2,
    ),
    Segment(
        "code-completion",
        0.30,
        "engineering",
        "ide",
        {"completion": 0.75, "general": 0.25},
        {"internal": 0.7, "confidential": 0.3},
        {"global": 0.75, "eu": 0.25},
        {"low": 0.95, "medium": 0.05},
        {"streaming": 0.8},
        (7.0, 1.36),
        (2.79, 0.85),
        (1.5, 6.0),
        cached_prob=0.7,
    ),
    Segment(
        "code-agent",
        0.14,
        "engineering",
        "ci-bot",
        {"agent": 0.8, "general": 0.2},
        {"internal": 0.6, "confidential": 0.4},
        {"global": 0.6, "eu": 0.4},
        {"low": 0.9, "medium": 0.1},
        {"tools": 0.9, "reasoning": 0.2, "long_context": 0.1, "json": 0.2},
        (8.5, 1.0),
        (6.0, 1.0),
        (3.0, 2.0),
        cached_prob=0.6,
    ),
    Segment(
        "unknown-tenant",
        0.02,
        "marketing",
        "campaign-gen",
        {"general": 1.0},
        {"public": 0.5, "internal": 0.5},
        {"us": 1.0},
        {"low": 1.0},
        {"audio": 0.2, "vision": 0.2},
        (6.0, 1.0),
        (5.5, 0.8),
        (2.0, 2.0),
    ),
)


def segments_from_policies(policies: Sequence[Any]) -> tuple[Segment, ...]:
    """Derive a mix from RoutingPolicy models in which every route receives traffic.

    See ``nexusctl.traffic.synth_policy.policy_segments``.
    """
    from nexusctl.traffic.synth_policy import policy_segments

    return policy_segments(policies)


def synth_batches(
    rows: int,
    seed: int,
    *,
    rate: float = DEFAULT_RATE,
    start_ms: int = DEFAULT_START_MS,
    segments: Sequence[Segment] = NEBULA_SEGMENTS,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[Any]:
    """Yield canonical ``pyarrow.RecordBatch``es totalling ``rows`` rows (deterministic)."""
    import numpy as np

    if rows < 0:
        raise ValueError("rows must be >= 0")
    if not segments:
        raise ValueError("at least one segment is needed")
    rng = np.random.Generator(np.random.PCG64(seed))
    vocab = _Vocabulary(segments)
    clock = 0.0
    done = 0
    while done < rows:
        n = min(batch_rows, rows - done)
        batch, clock = _batch(rng, n, done, seed, clock, rate, start_ms, segments, vocab)
        yield batch
        done += n


def synth_table(rows: int, seed: int, **options: Any) -> Any:
    """Return ``rows`` rows of synthetic traffic as one ``pyarrow.Table`` (see synth_batches)."""
    import pyarrow as pa

    from nexusctl.traffic.schema import traffic_schema

    return pa.Table.from_batches(list(synth_batches(rows, seed, **options)), traffic_schema())


def synth_metadata(
    rows: int, seed: int, rate: float, start_ms: int, segments_name: str
) -> dict[str, Any]:
    """The contract-A metadata recorded in a synthesised file."""
    return {
        "source": f"synth:{segments_name}",
        "importer": "synth",
        "enrichment": None,
        "quality": "synth: Bernoulli labels correlated with complexity",
        "synth": {"rows": rows, "seed": seed, "rate_per_s": rate, "start_ms": start_ms},
    }


class _Vocabulary:
    """Every string value the segments can produce, so string columns are built by take()."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        words: set[str] = set(DATA_CLASSES) | {"low", "medium", "high"}
        for s in segments:
            words |= {s.tenant, s.app, *s.use_cases, *s.data_classes, *s.residency, *s.risk}
        self.words = sorted(words)
        self.code = {w: i for i, w in enumerate(self.words)}


def _choose(rng: Any, n: int, weights: dict[str, float], vocab: _Vocabulary) -> Any:
    import numpy as np

    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=np.float64)
    p = p / p.sum()
    codes = np.array([vocab.code[k] for k in names], dtype=np.int32)
    return codes[rng.choice(len(names), size=n, p=p)]


def _batch(
    rng: Any,
    n: int,
    offset: int,
    seed: int,
    clock: float,
    rate: float,
    start_ms: int,
    segments: Sequence[Segment],
    vocab: _Vocabulary,
) -> tuple[Any, float]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.traffic.schema import traffic_schema

    weights = np.array([s.weight for s in segments], dtype=np.float64)
    seg = rng.choice(len(segments), size=n, p=weights / weights.sum())
    codes = {k: np.zeros(n, dtype=np.int32) for k in ("tenant", "app", "uc", "dc", "res", "risk")}
    input_tokens = np.zeros(n, dtype=np.int64)
    output_tokens = np.zeros(n, dtype=np.int64)
    complexity = np.zeros(n, dtype=np.float64)
    confidence = np.full(n, np.nan)
    cached_prob = np.zeros(n, dtype=np.float64)
    caps = np.zeros((n, len(CAPABILITIES)), dtype=bool)
    for index, s in enumerate(segments):
        rows = np.flatnonzero(seg == index)
        m = rows.size
        if m == 0:
            continue
        codes["tenant"][rows] = vocab.code[s.tenant]
        codes["app"][rows] = vocab.code[s.app]
        codes["uc"][rows] = _choose(rng, m, s.use_cases, vocab)
        codes["dc"][rows] = _choose(rng, m, s.data_classes, vocab)
        codes["res"][rows] = _choose(rng, m, s.residency, vocab)
        codes["risk"][rows] = _choose(rng, m, s.risk, vocab)
        input_tokens[rows] = np.rint(rng.lognormal(*s.input_lognormal, size=m)).astype(np.int64)
        if s.input_range is not None:
            input_tokens[rows] = np.clip(input_tokens[rows], *s.input_range)
        output_tokens[rows] = np.rint(rng.lognormal(*s.output_lognormal, size=m)).astype(np.int64)
        complexity[rows] = rng.beta(*s.complexity_beta, size=m)
        if s.complexity_range is not None:
            low, high = s.complexity_range
            complexity[rows] = low + (high - low) * complexity[rows]
        has_conf = rng.random(m) < s.confidence_share
        conf = rng.beta(*s.confidence_beta, size=m) * (1.0 - 0.3 * complexity[rows])
        confidence[rows[has_conf]] = conf[has_conf]
        cached_prob[rows] = s.cached_prob
        for cap, p in s.capabilities.items():
            caps[rows, CAPABILITIES.index(cap)] = rng.random(m) < p
    input_tokens = np.clip(input_tokens, 1, MAX_INPUT_TOKENS)
    output_tokens = np.clip(output_tokens, 1, MAX_OUTPUT_TOKENS)
    caps[:, CAPABILITIES.index("long_context")] |= input_tokens > LONG_CONTEXT_TOKENS
    cached = np.where(
        rng.random(n) < cached_prob,
        np.floor(input_tokens * rng.beta(5.0, 2.0, size=n)).astype(np.int64),
        0,
    )
    reasoning = np.where(
        caps[:, CAPABILITIES.index("reasoning")],
        np.rint(rng.lognormal(6.5, 1.0, size=n)).astype(np.int64).clip(1, MAX_OUTPUT_TOKENS),
        0,
    )
    # Quality labels: the small model gets harder requests wrong far more often.
    small_ok = rng.random(n) < np.clip(0.97 - 0.8 * complexity, 0.05, 1.0)
    large_ok = rng.random(n) < np.clip(0.99 - 0.25 * complexity, 0.05, 1.0)

    # Bursty arrivals: exponential gaps whose rate is scaled per block by a lognormal factor.
    blocks = (n + BURST_BLOCK_ROWS - 1) // BURST_BLOCK_ROWS
    # mu = +sigma^2/2 makes E[1/multiplier] = 1, so the mean rate stays ``rate``.
    burst = rng.lognormal(0.5 * BURST_SIGMA**2, BURST_SIGMA, size=blocks)
    gaps = rng.exponential(1.0, size=n) / (rate * np.repeat(burst, BURST_BLOCK_ROWS)[:n])
    seconds = clock + np.cumsum(gaps)
    times = start_ms + np.floor(seconds * 1000.0).astype(np.int64)

    words = pa.array(vocab.words, pa.string())

    def strings(key: str) -> Any:
        return pc.take(words, pa.array(codes[key]))

    ids = pc.cast(pa.array(np.arange(offset, offset + n, dtype=np.int64)), pa.string())
    request_id = pc.binary_join_element_wise(
        f"synth-{seed}-", pc.utf8_lpad(ids, width=9, padding="0"), ""
    )
    row_idx, cap_idx = np.nonzero(caps)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(row_idx, minlength=n), out=offsets[1:])
    capabilities = pa.ListArray.from_arrays(
        pa.array(offsets), pc.take(pa.array(CAPABILITIES, pa.string()), pa.array(cap_idx))
    )
    nulls_str = pa.nulls(n, pa.string())
    nulls_int = pa.nulls(n, pa.int64())
    arrays = [
        pa.array(times, pa.timestamp("ms", tz="UTC")),
        request_id,
        strings("tenant"),
        strings("app"),
        strings("uc"),
        strings("dc"),
        strings("res"),
        strings("risk"),
        pa.array(input_tokens),
        pa.array(cached),
        pa.array(output_tokens),
        pa.array(reasoning),
        capabilities,
        pa.array(complexity),
        pa.array(confidence, from_pandas=True),
        nulls_str,
        nulls_int,
        nulls_int,
        pa.array(small_ok),
        pa.array(large_ok),
    ]
    schema = traffic_schema()
    # Synthetic requests have no source: every later (observed, optional) column is null.
    arrays += [pa.nulls(n, column.type) for column in list(schema)[len(arrays) :]]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return batch, float(seconds[-1])


def write_synth(
    path: Any,
    rows: int,
    seed: int,
    *,
    rate: float = DEFAULT_RATE,
    start_ms: int = DEFAULT_START_MS,
    policies: Sequence[Any] = (),
) -> int:
    """Synthesise ``rows`` requests into the Parquet file ``path``; return the rows written.

    ``policies`` are paths to RoutingPolicy files; when given, the mix is derived from them
    (``segments_from_policies``) instead of ``NEBULA_SEGMENTS``.

    Raises:
        PolicyLoadError: a policy file is invalid.
        EnvironmentError_: the output cannot be written.
    """
    from pathlib import Path

    from nexusctl.policy.loader import load_policy
    from nexusctl.traffic._io import write_traffic

    segments: Sequence[Segment] = NEBULA_SEGMENTS
    name = "nebula"
    if policies:
        loaded = [load_policy(Path(p)).policy for p in policies]
        segments = segments_from_policies(loaded)
        name = ",".join(p.metadata.name for p in loaded)
    metadata = synth_metadata(rows, seed, rate, start_ms, name)
    batches = synth_batches(rows, seed, rate=rate, start_ms=start_ms, segments=segments)
    return write_traffic(Path(path), batches, metadata)
