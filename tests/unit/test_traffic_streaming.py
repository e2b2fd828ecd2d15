"""The import streams in chunks of CHUNK_ROWS rows: results must not depend on the chunking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from nexusctl.errors import TrafficError
from nexusctl.traffic.importers import ImportOptions, _pipeline, build_traffic, import_traffic
from nexusctl.traffic.importers._raw import CHUNK_ROWS

REPO = Path(__file__).resolve().parents[2]
ENRICH = REPO / "policies" / "nebula" / "enrichment" / "azure-code.yaml"
ROWS = 2 * CHUNK_ROWS + 1000  # three chunks, the last one short


def _azure(path: Path, rows: int) -> Path:
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(rows):
        stamp = f"2023-11-16 18:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}0000"
        lines.append(f"{stamp},{100 + i % 5000},{10 + i % 300}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_enrichment_of_the_first_chunk_is_the_whole_file_s_prefix(tmp_path: Path) -> None:
    options = ImportOptions(enrich=ENRICH)
    whole, _, _ = build_traffic("azure", _azure(tmp_path / "azure_code.csv", ROWS), options)
    (tmp_path / "head").mkdir()
    head_src = _azure(tmp_path / "head" / "azure_code.csv", CHUNK_ROWS)
    head, _, _ = build_traffic("azure", head_src, options)
    assert whole.num_rows == ROWS
    # Chunk 0 draws exactly as a one-chunk file does (so small imports are unchanged).
    assert whole.slice(0, CHUNK_ROWS).equals(head)
    again, _, _ = build_traffic("azure", tmp_path / "azure_code.csv", options)
    assert again.equals(whole)  # seeded: the same file gives the same rows


def test_duplicates_are_found_across_chunks(tmp_path: Path) -> None:
    header = "time,request_id,tenant,app,data_class,residency_class,risk_class,input_tokens,output_tokens,complexity"  # noqa: E501
    # The last row (third chunk) repeats the id of row 6 (first chunk).
    rows = [
        f"2026-01-05T09:00:00Z,r-{i if i != ROWS - 1 else 5},t,a,public,eu,low,1,1,0.5"
        for i in range(ROWS)
    ]
    canonical = tmp_path / "dup.csv"
    canonical.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(TrafficError) as info:
        import_traffic("canonical", canonical, tmp_path / "o.parquet", ImportOptions())
    expected = f"row {ROWS} (line {ROWS + 1}): request_id: duplicate 'r-5' (first seen at row 6)"
    assert expected in str(info.value)
    assert list(tmp_path.iterdir()) == [canonical]  # nothing written, no staging file left
    result = import_traffic(
        "canonical", canonical, tmp_path / "o.parquet", ImportOptions(skip_invalid=True)
    )
    assert (result.rows, result.skipped) == (ROWS - 1, 1)
    assert pq.read_metadata(tmp_path / "o.parquet").num_rows == ROWS - 1
    assert result.metadata["skipped_rows"] == [ROWS]


def test_a_hash_collision_is_not_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every id hashes alike (as a collision would): the exact check decides, and finds none.
    header = "time,request_id,tenant,app,data_class,residency_class,risk_class,input_tokens,output_tokens,complexity"  # noqa: E501
    rows = [f"2026-01-05T09:00:00Z,r-{i},t,a,public,eu,low,1,1,0.5" for i in range(ROWS)]
    canonical = tmp_path / "ids.csv"
    canonical.write_text("\n".join([header, *rows]) + "\n")
    seen: list[int] = []

    def colliding(ids: Any) -> Any:
        seen.append(len(ids))
        return np.zeros(len(ids), dtype=np.int64)

    monkeypatch.setattr(_pipeline, "id_hashes", colliding)
    result = import_traffic("canonical", canonical, tmp_path / "o.parquet", ImportOptions())
    assert result.rows == ROWS
    assert result.skipped == 0
    assert sum(seen) == ROWS  # every chunk was hashed
    rows[-1] = rows[-1].replace(f"r-{ROWS - 1},", "r-7,")
    canonical.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(TrafficError, match=r"duplicate 'r-7' \(first seen at row 8\)"):
        import_traffic("canonical", canonical, tmp_path / "o.parquet", ImportOptions())


def test_a_csv_row_is_read_up_to_its_block_and_refused_beyond(tmp_path: Path) -> None:
    # Arrow's CSV reader holds ~35 blocks at once, so canonical rows are read in 1 MiB
    # blocks; a longer row is refused by name, not as a parser's message.
    header = "time,request_id,tenant,app,data_class,residency_class,risk_class,input_tokens,output_tokens,complexity"  # noqa: E501
    row = "2026-01-05T09:00:00Z,{id},t,a,public,eu,low,1,1,0.5"
    src = tmp_path / "t.csv"
    src.write_text("\n".join([header, row.format(id="r-1"), row.format(id="x" * (600 << 10))]))
    with pytest.raises(TrafficError, match=r"row 2 \(line 3\): request_id: longer than 200"):
        import_traffic("canonical", src, tmp_path / "o.parquet", ImportOptions())
    long_row = row.format(id="x" * (5 << 19))  # 2.5 MiB, with a row after it
    src.write_text("\n".join([header, row.format(id="r-1"), long_row, row.format(id="r-3")]))
    with pytest.raises(TrafficError, match="a CSV row is longer than 1 MiB") as info:
        import_traffic("canonical", src, tmp_path / "o.parquet", ImportOptions())
    assert info.value.exit_code == 3
    assert list(tmp_path.iterdir()) == [src]


def test_json_lines_fast_and_line_by_line_paths_agree(tmp_path: Path) -> None:
    row = '{{"time":"2026-01-05T09:00:{s:02d}Z","request_id":"r-{i}","tenant":"t","app":"a","data_class":"public","residency_class":"eu","risk_class":"low","input_tokens":{n},"output_tokens":1,"complexity":0.5}}'  # noqa: E501
    clean = [row.format(s=i % 60, i=i, n=i % 900) for i in range(CHUNK_ROWS + 10)]
    mixed = list(clean)
    # A token count as a string: legal (converted) but not Arrow's type, so the second chunk
    # takes the line-by-line parser.
    mixed[-1] = mixed[-1].replace(
        f'"input_tokens":{(CHUNK_ROWS + 9) % 900}', f'"input_tokens":"{(CHUNK_ROWS + 9) % 900}"'
    )
    (tmp_path / "clean.jsonl").write_text("\n".join(clean) + "\n")
    (tmp_path / "mixed.jsonl").write_text("\n".join(mixed) + "\n")
    a, _, _ = build_traffic("canonical", tmp_path / "clean.jsonl", ImportOptions())
    b, _, _ = build_traffic("canonical", tmp_path / "mixed.jsonl", ImportOptions())
    assert mixed != clean
    assert a.equals(b)


def test_json_lines_name_the_source_line_after_blank_lines(tmp_path: Path) -> None:
    row = '{"time":"2026-01-05T09:00:00Z","request_id":"r-%d","tenant":"t","app":"a","data_class":"public","residency_class":"eu","risk_class":"low","input_tokens":%d,"output_tokens":1,"complexity":0.5}'  # noqa: E501
    text = "\n".join([row % (1, 5), "", "   ", row % (2, -5), row % (3, 5)]) + "\n"
    (tmp_path / "blank.jsonl").write_text(text)
    with pytest.raises(TrafficError) as info:
        build_traffic("canonical", tmp_path / "blank.jsonl", ImportOptions())
    assert "row 2 (line 4): input_tokens: -5 is negative" in str(info.value)


def test_json_lines_whose_later_lines_add_columns_agree_with_the_line_by_line_path(
    tmp_path: Path,
) -> None:
    # The first line names fewer canonical columns than later ones: Arrow is retried with
    # every column declared, and the result must equal the line-by-line parser's.
    row = '{{"time":"2026-01-05T09:00:00Z","request_id":"r-{i}","tenant":"t","app":"a","data_class":"public","residency_class":"eu","risk_class":"low","input_tokens":{n},"output_tokens":1,"complexity":0.5{extra}}}'  # noqa: E501
    extra = ',"confidence":0.25,"small_model_correct":true,"capabilities":["json"]'
    clean = [row.format(i=i, n=i % 900, extra=extra if i % 3 else "") for i in range(50)]
    mixed = list(clean)
    mixed[-1] = mixed[-1].replace('"input_tokens":49', '"input_tokens":"49"')  # line by line
    (tmp_path / "clean.jsonl").write_text("\n".join(clean) + "\n")
    (tmp_path / "mixed.jsonl").write_text("\n".join(mixed) + "\n")
    a, _, _ = build_traffic("canonical", tmp_path / "clean.jsonl", ImportOptions())
    b, _, _ = build_traffic("canonical", tmp_path / "mixed.jsonl", ImportOptions())
    assert mixed != clean
    assert a.equals(b)
    assert a.column("confidence").null_count == 17  # lines 0, 3, ... 48 lack it


def test_json_lines_with_an_unknown_key_on_a_later_line_are_refused(tmp_path: Path) -> None:
    row = '{"time":"2026-01-05T09:00:00Z","request_id":"r-%d","tenant":"t","app":"a","data_class":"public","residency_class":"eu","risk_class":"low","input_tokens":5,"output_tokens":1,"complexity":0.5%s}'  # noqa: E501
    lines = [row % (1, ""), row % (2, ',"confidence":0.5'), row % (3, ',"confidense":0.5')]
    (tmp_path / "typo.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(TrafficError, match=r"unknown column.*'confidense'"):
        build_traffic("canonical", tmp_path / "typo.jsonl", ImportOptions())
