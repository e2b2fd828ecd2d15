"""simulate's fast path (one read feeding both replays) changes nothing.

The real engine's ``replay_pair`` decides both policies from one read of each batch; an engine
that replays one policy at a time pairs its replays by fan-out (``pair_by_fan_out``). Both
must give the same result document and the same decisions file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexusctl.policy.catalog import ModelCatalog
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.replay import ReplayEngine, RouterReplay
from nexusctl.simulate._codes import encode, np_filled, np_valid
from nexusctl.simulate._streams import pair_by_fan_out
from nexusctl.simulate.reports.report_json import render_json
from nexusctl.simulate.run import SimulationRequest, simulate
from tests.unit.test_replay_differential import generated_traffic

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "nebula"


class GenericEngine:
    """The router's replay, one policy at a time, paired by fan-out."""

    def __init__(self) -> None:
        self._real = RouterReplay()

    def replay(self, loaded: LoadedPolicy, traffic: Iterable[Any]) -> Iterator[Any]:
        return self._real.replay(loaded, traffic)

    def replay_pair(
        self, baseline: LoadedPolicy, candidate: LoadedPolicy, traffic: Iterable[Any]
    ) -> Iterator[tuple[Any, Any, Any]]:
        return pair_by_fan_out(self, baseline, candidate, traffic)

    def reprice(self, decisions: Any, traffic: Any, catalog: ModelCatalog) -> Any:
        return self._real.reprice(decisions, traffic, catalog)


def test_engines_implement_the_whole_interface() -> None:
    from tests.assets.simulate.simulate_fake_engine import FakeEngine

    engines: list[ReplayEngine] = [RouterReplay(), GenericEngine(), FakeEngine()]
    for engine in engines:
        for method in ("replay", "replay_pair", "reprice"):
            assert callable(getattr(type(engine), method, None)), (engine, method)


@pytest.mark.parametrize("candidate", ["retail-chat.candidate.yaml", "candidates/retail-chat.yaml"])
def test_simulate_shared_read_equals_generic_path(tmp_path: Path, candidate: str) -> None:
    traffic = tmp_path / "traffic.parquet"
    table = generated_traffic(20_000, seed=11)
    rng = np.random.default_rng(5)
    labels = pa.array(rng.random(table.num_rows) < 0.6).to_pylist()
    table = table.append_column("small_model_correct", pa.array(labels))
    table = table.append_column("large_model_correct", pa.array([True] * table.num_rows))
    pq.write_table(table, traffic, row_group_size=7_000)
    results = []
    for name, engine in (("fast", None), ("generic", GenericEngine())):
        out = tmp_path / f"{name}.parquet"
        request = SimulationRequest(
            baseline=POLICIES / "retail-chat.yaml",
            candidate=POLICIES / candidate,
            traffic=traffic,
            decisions=out,
            allow_catalog_change=True,
        )
        result = simulate(request, engine=engine)
        results.append((render_json(result), pq.read_table(out)))
    (fast_json, fast_pairs), (generic_json, generic_pairs) = results
    assert fast_json == generic_json
    assert fast_pairs.schema == generic_pairs.schema
    assert fast_pairs.equals(generic_pairs)


def test_simulate_codes_fill_and_validity_from_buffers() -> None:
    values = pa.array([5, None, -3, None, 7], type=pa.int64()).slice(1)  # with an offset
    assert np_filled(values, 0).tolist() == [0, -3, 0, 7]
    assert np_filled(values, -1).tolist() == [-1, -3, -1, 7]
    assert np_valid(values).tolist() == [False, True, False, True]
    flags = pa.chunked_array([[True, None], [False, True, None]])
    assert np_filled(flags, 0).tolist() == [1, 0, 0, 1, 0]
    assert np_valid(pa.array([1, 2])).tolist() == [True, True]
    small = pa.array([1, None, 2], type=pa.int32())
    assert np_filled(small, -1).dtype == np.int64
    assert np_filled(small, -1).tolist() == [1, -1, 2]


def test_simulate_encode_uses_distinct_dictionaries_and_recodes_repeats() -> None:
    coded = pa.DictionaryArray.from_arrays(pa.array([1, None, 0, 1]), pa.array(["a", "b"]))
    codes, labels = encode(coded)
    assert (codes.tolist(), labels) == ([1, -1, 0, 1], ["a", "b"])
    # A dictionary that repeats a label is re-encoded so equal values get equal codes.
    repeated = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2]), pa.array(["x", "y", "x"]))
    codes, labels = encode(repeated)
    assert [labels[c] for c in codes] == ["x", "y", "x"]
    assert codes[0] == codes[2]
