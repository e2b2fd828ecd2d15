"""Every query of docs/evidence.md's auditor query pack runs, as written, on a real store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.evidence_helpers import make_store, run

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"
#: Values for the pack's $parameters (dates cover the helpers' records).
PARAMS = {"from": "2026-01-01", "to": "2026-12-31", "id": "req-3"}


def pack() -> list[tuple[str, str]]:
    """(title comment, SQL) of each query in the block after "Auditor query pack"."""
    text = DOC.read_text()
    block = text[text.index("Auditor query pack") :].split("```sql", 1)[1].split("```", 1)[0]
    queries = []
    for chunk in block.split(";"):
        lines = [line for line in chunk.strip().splitlines() if line.strip()]
        if not lines:
            continue
        title = lines[0].removeprefix("--").strip() if lines[0].startswith("--") else "?"
        queries.append((title, "\n".join(lines)))
    return queries


def test_the_pack_is_found() -> None:
    assert len(pack()) >= 5


@pytest.mark.parametrize(("title", "sql"), pack(), ids=[t for t, _ in pack()])
def test_each_pack_query_runs(tmp_path: Path, title: str, sql: str) -> None:
    store, _key, _vkey = make_store(tmp_path)
    args = ["evidence", "query", "-f", "json"]
    for name in sorted(set(re.findall(r"\$([a-z_]+)", sql))):
        args += ["--param", f"{name}={PARAMS[name]}"]
    # The SQL starts with its "-- title" comment: after "--", it is not read as an option.
    result = run(*args, "--", str(store), sql)
    assert result.exit_code == 0, f"{title}: {result.stderr}"
    assert isinstance(json.loads(result.stdout), list)
