"""Regenerate the bad traffic files beside this script (run it by hand; they are committed).

python tests/assets/simulate/make_bad_traffic.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from nexusctl.traffic.schema import MAX_TOKENS  # noqa: E402
from tests.assets.simulate.simulate_fake_engine import traffic_table  # noqa: E402


def main() -> None:
    """Write one file per broken rule."""
    good = [{}, {}, {}, {}]
    (HERE / "not-parquet.parquet").write_text("time,request_id\n2026-01-01,a\n")
    pq.write_table(
        traffic_table(good).drop_columns(["complexity"]), HERE / "missing-column.parquet"
    )
    pq.write_table(traffic_table([{}, {"output_tokens": -5}, {}]), HERE / "negative-tokens.parquet")
    pq.write_table(traffic_table([{"data_class": "secret"}]), HERE / "unknown-data-class.parquet")
    pq.write_table(
        traffic_table([{}, {}, {"complexity": 1.5}]), HERE / "complexity-out-of-range.parquet"
    )
    table = traffic_table(good)
    index = table.schema.get_field_index("input_tokens")
    table = table.set_column(index, "input_tokens", pa.array(["1000"] * 4))
    pq.write_table(table, HERE / "wrong-type.parquet")
    # Token counts just under the readers' cap (nexusctl.traffic.schema.MAX_TOKENS, 2^40):
    # priced at a high enough rate they leave int64; their sum does at ordinary prices.
    near_cap = [{"input_tokens": MAX_TOKENS - 1 - i, "output_tokens": 100} for i in range(300)]
    pq.write_table(traffic_table(near_cap), HERE / "tokens-near-cap.parquet")
    pq.write_table(
        traffic_table([{}, {"input_tokens": (1 << 63) - 1}]), HERE / "tokens-int64-max.parquet"
    )


if __name__ == "__main__":
    main()
