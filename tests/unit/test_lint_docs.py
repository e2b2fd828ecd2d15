"""Every rule has its documentation page, listed in the catalogue (the SARIF helpUri target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusctl.lint import RULES

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"


@pytest.mark.parametrize("rule_id", list(RULES))
def test_rule_has_a_page(rule_id: str) -> None:
    page = DOCS / "rules" / f"{rule_id}.md"
    rule = RULES[rule_id]
    assert page.read_text().splitlines()[0] == f"# {rule_id} {rule.name}"
    assert f"| {rule.severity} |" in page.read_text()
    assert rule.help_uri.endswith(f"docs/rules/{rule_id}.md")


def test_catalogue_lists_every_rule_and_nothing_else() -> None:
    index = (DOCS / "rules" / "index.md").read_text()
    listed = {line.split("]")[0].removeprefix("| [") for line in index.splitlines()
              if line.startswith("| [NXL")}  # fmt: skip
    assert listed == set(RULES)
    pages = {p.stem for p in (DOCS / "rules").glob("NXL*.md")}
    assert pages == set(RULES)


def test_reference_request_is_documented_where_it_is_used() -> None:
    for name in ("NXL008.md", "NXL009.md"):
        assert "1,000 input" in (DOCS / "rules" / name).read_text()
    assert "1,000 input tokens and 500 output tokens" in (DOCS / "lint.md").read_text()
