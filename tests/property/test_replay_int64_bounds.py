"""The replay's int64 guard is sound: a row it lets through never leaves int64 anywhere.

For random decode factors (per-token and GPU-time pricing, several latency points and draft
lengths) and random token counts up to the cap, when ``check_int64`` accepts a row every
intermediate of the decode model's arithmetic (computed here in Python integers, as the
scalar router does) fits in int64; and a row whose final cost or latency does not fit is
always refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusctl.decode.factors import DecodeFactors, PointFactors
from nexusctl.errors import InputError, TrafficError
from nexusctl.replay._engine import check_int64
from nexusctl.traffic.schema import MAX_TOKENS

INT64_MAX = (1 << 63) - 1
BIG = st.one_of(st.integers(0, 10**6), st.integers(0, 10**13), st.integers(0, 10**18))


@st.composite
def factors(draw: st.DrawFn) -> DecodeFactors:
    gammas = draw(st.integers(0, 3))
    points = tuple(
        PointFactors(
            max_load=draw(st.integers(1, 10**12)),
            ttft_base_us=draw(BIG),
            ttft_per_1k_input_us=draw(BIG),
            tpot_us=1,
            tpot_eff_us=tuple(draw(st.lists(BIG, min_size=gammas + 1, max_size=gammas + 1))),
            gpu_tpot_ns=tuple(draw(st.lists(BIG, min_size=gammas + 1, max_size=gammas + 1))),
        )
        for _ in range(draw(st.integers(1, 3)))
    )
    kind = draw(st.sampled_from(["per_token", "gpu_time"]))
    return DecodeFactors(
        deployment_id="dep",
        points=points,
        max_draft_tokens=gammas,
        disable_above_load=1,
        pricing_kind=kind,
        price_input=draw(BIG),
        price_cached_input=draw(BIG),
        price_output=draw(BIG),
        price_reasoning=draw(BIG),
        gpu_rate=draw(BIG),
    )


def intermediates(f: DecodeFactors, inp: int, cached: int, out: int, reasoning: int) -> list[int]:
    """Every value the vectorised controller forms for this row, at every point and draft."""
    values = [3600 * p.max_load for p in f.points] if f.pricing_kind == "gpu_time" else []
    generated = out + reasoning
    for p in f.points:
        scaled = p.ttft_per_1k_input_us * inp
        ttft = p.ttft_base_us + scaled // 1000
        values += [scaled, ttft]
        for gamma in range(len(p.tpot_eff_us)):
            step = generated * p.tpot_eff_us[gamma]
            values += [step, ttft + step]
            if f.pricing_kind == "gpu_time":
                gpu = generated * p.gpu_tpot_ns[gamma]
                busy = ttft + gpu // 1000
                values += [gpu, busy, f.gpu_rate * busy]
    if f.pricing_kind == "per_token":
        terms = [
            (inp - cached) * f.price_input,
            cached * f.price_cached_input,
            out * f.price_output,
            reasoning * f.price_reasoning,
        ]
        values += terms + [sum(terms[:k]) for k in range(2, 5)]
    return values


TOKENS = st.one_of(st.integers(0, 10**4), st.integers(0, MAX_TOKENS))


@given(factors(), TOKENS, st.floats(0, 1), TOKENS, TOKENS)
def test_replay_int64_guard_is_sound(
    f: DecodeFactors, inp: int, cached_share: float, out: int, reasoning: int
) -> None:
    cached = int(inp * cached_share)
    arrays = tuple(np.array([v], dtype=np.int64) for v in (inp, out, reasoning))
    worst = max(intermediates(f, inp, cached, out, reasoning))
    if worst > INT64_MAX:
        # TrafficError names the rows; InputError (its parent) blames the catalog alone.
        with pytest.raises(InputError, match="64-bit range"):
            check_int64(f, (inp, out, reasoning), arrays, np.array([0]), 0)
        return
    # Within range the guard may still refuse (its bounds are conservative), but only with
    # the overflow message; mostly it accepts.
    try:
        check_int64(f, (inp, out, reasoning), arrays, np.array([0]), 0)
    except InputError as refused:
        message = str(refused)
    else:
        message = "accepted"
    assert message == "accepted" or "64-bit range" in message


def test_replay_int64_guard_names_the_row() -> None:
    f = DecodeFactors(
        deployment_id="pricey",
        points=(PointFactors(1, 0, 0, 1, (1,), (1000,)),),
        max_draft_tokens=0,
        disable_above_load=0,
        pricing_kind="per_token",
        price_input=10**10,
    )
    inp = np.array([10, MAX_TOKENS], dtype=np.int64)
    zeros = np.zeros(2, dtype=np.int64)
    with pytest.raises(TrafficError, match=r"rows 8 \(1-based\).*deployment pricey.*cost"):
        check_int64(f, (MAX_TOKENS, 0, 0), (inp, zeros, zeros), np.array([3, 6]), 1)


def test_replay_int64_guard_blames_the_catalog_when_no_request_is_needed() -> None:
    f = DecodeFactors(
        deployment_id="slow",
        points=(PointFactors(1, 1 << 63, 0, 1, (1,), (1000,)),),
        max_draft_tokens=0,
        disable_above_load=0,
        pricing_kind="per_token",
    )
    zeros = np.zeros(1, dtype=np.int64)
    with pytest.raises(InputError, match=r"deployment slow: its catalog figures alone .*latency"):
        check_int64(f, (0, 0, 0), (zeros, zeros, zeros), np.array([0]), 0)
