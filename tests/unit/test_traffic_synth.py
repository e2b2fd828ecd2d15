"""Seeded synthetic traffic: deterministic, valid, bounded batches, every Nebula case present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nexusctl.policy.loader import load_policy
from nexusctl.traffic.parquet import file_metadata, open_traffic_parquet
from nexusctl.traffic.schema import TRAFFIC
from nexusctl.traffic.synth import (
    NEBULA_SEGMENTS,
    segments_from_policies,
    synth_batches,
    synth_table,
    write_synth,
)


def test_same_seed_same_table_other_seed_differs() -> None:
    assert synth_table(3000, 11).equals(synth_table(3000, 11))
    assert not synth_table(3000, 11).equals(synth_table(3000, 12))


def test_batches_are_bounded_and_concatenate_to_the_rows() -> None:
    batches = list(synth_batches(2500, 5, batch_rows=1000))
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    table = pa.Table.from_batches(batches)
    ids = table.column("request_id").to_pylist()
    assert ids[0] == "synth-5-000000000"
    assert ids[-1] == "synth-5-000002499"
    assert len(set(ids)) == 2500
    times = table.column("time").cast(pa.int64()).to_numpy()
    assert (np.diff(times) >= 0).all()  # arrivals are in order across batches


def test_mix_exercises_every_case_of_the_nebula_policies() -> None:
    table = synth_table(200_000, 1)
    values = {
        name: set(table.column(name).unique().to_pylist())
        for name in ("tenant", "use_case", "data_class", "residency_class", "risk_class")
    }
    assert {"retail-banking", "wealth", "credit-risk", "engineering", "marketing"} <= values[
        "tenant"
    ]
    assert {"faq", "advice", "account-help", "memo", "completion", "agent"} <= values["use_case"]
    assert values["data_class"] == {"public", "internal", "confidential", "restricted"}
    assert {"eu", "ca", "global", "us"} <= values["residency_class"]
    assert values["risk_class"] == {"low", "medium", "high"}
    caps = set(pc.list_flatten(table.column("capabilities")).unique().to_pylist())
    assert {"vision", "tools", "audio", "long_context", "reasoning"} <= caps
    confidence = table.column("confidence").to_numpy(zero_copy_only=False)
    assert np.nanmin(confidence) < 0.5  # low-confidence escalations
    tokens = table.column("input_tokens").to_numpy()
    assert np.percentile(tokens, 99) > 8 * np.median(tokens)  # heavy tail


def test_quality_labels_follow_complexity() -> None:
    table = synth_table(100_000, 2)
    complexity = table.column("complexity").to_numpy()
    small = table.column("small_model_correct").to_numpy(zero_copy_only=False)
    easy, hard = complexity < 0.2, complexity > 0.6
    assert small[easy].mean() > small[hard].mean() + 0.3


def test_arrivals_are_bursty() -> None:
    table = synth_table(100_000, 4, rate=50.0)
    seconds = table.column("time").cast(pa.int64()).to_numpy() // 1000
    per_second = np.bincount(seconds - seconds[0])
    busy = per_second[per_second > 0]
    assert busy.max() > 3 * busy.mean()
    assert 30 < len(seconds) / (seconds[-1] - seconds[0] + 1) < 80


def test_write_synth_records_metadata(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    assert write_synth(out, 1234, 9) == 1234
    assert pq.read_metadata(out).num_rows == 1234
    meta = file_metadata(open_traffic_parquet(out), str(out))
    assert meta is not None
    assert meta["importer"] == "synth"
    assert meta["synth"]["seed"] == 9


def test_only_the_columns_declared_to_repeat_are_dictionary_encoded(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    write_synth(out, 5000, 3)
    group = pq.read_metadata(out).row_group(0)
    encodings = {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)
    }
    declared = TRAFFIC.dictionary_columns()
    assert "tenant" in declared
    assert "capabilities.list.element" in declared
    assert set(declared) <= set(encodings)  # every declared name is a leaf of the file
    for path, used in encodings.items():
        assert ("RLE_DICTIONARY" in used) == (path in declared), path
    table = pq.read_table(out)
    assert table.column("request_id").type == pa.string()  # readers see the same values
    assert table.column("tenant").type == pa.string()


def test_segments_from_policies_use_declared_values(policies_dir: Path) -> None:
    policy = load_policy(policies_dir / "credit-underwriting.yaml").policy
    segments = segments_from_policies([policy])
    assert {s.tenant for s in segments} == {"credit-risk"}
    plain = segments[-1]  # after one segment per route: the plain mix over the vocabulary
    assert set(plain.use_cases) == {"general", "memo"}
    assert set(plain.residency) == {"eu", "unknown"}
    table = synth_table(2000, 1, segments=segments)
    assert set(table.column("tenant").unique().to_pylist()) == {"credit-risk"}
    assert sum(s.weight for s in NEBULA_SEGMENTS) == pytest.approx(1.0)


def test_zero_rows_write_an_empty_file_with_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "empty.parquet"
    assert write_synth(out, 0, 1) == 0
    assert pq.read_table(out).num_rows == 0
    assert pq.read_schema(out).remove_metadata().equals(synth_table(1, 1).schema)
