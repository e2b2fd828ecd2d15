"""The one-pass import: valid rows stream into the output, refused imports leave nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nexusctl.errors import TrafficError
from nexusctl.traffic.importers import ImportOptions, import_traffic
from nexusctl.traffic.parquet import file_metadata, open_traffic_parquet
from nexusctl.traffic.schema import traffic_schema

ASSET = Path(__file__).resolve().parents[1] / "assets" / "traffic" / "bad_duplicate_request_id.csv"


def _csv(tmp_path: Path) -> Path:
    """Rows: ok-1; ok-2 with negative tokens; ok-1 again; ok-4."""
    header, row, *_ = ASSET.read_text(encoding="utf-8").splitlines()
    rows = [
        row,
        row.replace("ok-1", "ok-2"),
        row,
        row.replace("ok-1", "ok-4"),
    ]
    fields = header.split(",")
    tokens = fields.index("input_tokens")
    cells = rows[1].split(",")
    cells[tokens] = "-5"
    rows[1] = ",".join(cells)
    path = tmp_path / "src" / "mixed.csv"
    path.parent.mkdir()
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_skip_invalid_drops_bad_and_repeated_rows(tmp_path: Path) -> None:
    out = tmp_path / "out" / "traffic.parquet"
    out.parent.mkdir()
    result = import_traffic("canonical", _csv(tmp_path), out, ImportOptions(skip_invalid=True))
    assert (result.rows, result.skipped) == (2, 2)
    table = pq.read_table(out)
    assert table.column("request_id").to_pylist() == ["ok-1", "ok-4"]
    assert table.schema.remove_metadata().equals(traffic_schema())
    meta = file_metadata(open_traffic_parquet(out), str(out))
    assert meta is not None
    assert (meta["rows_read"], meta["rows"], meta["skipped_rows"]) == (4, 2, [2, 3])
    assert [p.name for p in out.parent.iterdir()] == ["traffic.parquet"]  # no temporary left


def test_a_refused_import_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out" / "traffic.parquet"
    out.parent.mkdir()
    with pytest.raises(TrafficError, match="2 invalid row"):
        import_traffic("canonical", _csv(tmp_path), out, ImportOptions())
    assert list(out.parent.iterdir()) == []
