"""The outputs quoted in the docs are the demo's: regenerated and compared, block by block."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "doc_samples", REPO / "scripts" / "doc_samples.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["doc_samples"] = module
    spec.loader.exec_module(module)
    return module


def test_every_marked_block_names_a_sample_and_the_rewrite_is_exact() -> None:
    samples = _script()
    text = "a <!-- sample:one -->old<!-- /sample --> b <!-- sample:two -->\nx\n<!-- /sample -->"
    rewritten, unknown = samples.rewrite(text, {"one": "new", "two": "\ny\n"})
    assert (
        rewritten
        == "a <!-- sample:one -->new<!-- /sample --> b <!-- sample:two -->\ny\n<!-- /sample -->"
    )
    assert unknown == []
    assert samples.rewrite(text, {"one": "new"})[1] == ["two"]
    names = {
        match.group("name")
        for document in samples.DOCUMENTS
        for match in samples.MARKED.finditer((REPO / document).read_text(encoding="utf-8"))
    }
    assert names == {"demo-gates", "simulate-console", "simulate-markdown"}


@pytest.mark.slow
def test_the_docs_quote_what_the_demo_prints_now() -> None:
    samples = _script()
    rendered = samples.render_samples()
    stale = samples.stale_blocks(rendered)
    assert stale == [], "run: .venv/bin/python scripts/doc_samples.py"
    # the facts the issue found wrong are generated now; the gate count is what the demo prints
    assert rendered["demo-gates"].startswith("two gates fail")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "one fails on purpose" not in readme
