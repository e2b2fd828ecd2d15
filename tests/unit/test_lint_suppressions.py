"""Suppressions: matching by rule and target, expiry against an injected date, stale ones."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from nexusctl.lint import lint_paths

ASSET = Path(__file__).resolve().parent.parent / "assets" / "lint" / "NXL009-slo-unreachable"


def with_suppression(tmp_path: Path, block: str) -> Path:
    folder = tmp_path / "p"
    shutil.copytree(ASSET, folder)
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text() + "  suppressions:\n" + block)
    return folder


REASON = "      reason: The chat SLO is being renegotiated with the business owner.\n"


def test_matching_suppression_hides_and_counts_the_finding(tmp_path: Path) -> None:
    folder = with_suppression(tmp_path, "    - rule: NXL009\n      target: chat\n" + REASON)
    report = lint_paths([folder], today=dt.date(2026, 1, 1))
    assert report.findings == ()
    [waived] = report.suppressed
    assert waived.rule == "NXL009"
    assert waived.suppressed is not None
    assert waived.suppressed.line == 40


def test_other_target_does_not_match(tmp_path: Path) -> None:
    folder = with_suppression(tmp_path, "    - rule: NXL009\n      target: default\n" + REASON)
    report = lint_paths([folder], today=dt.date(2026, 1, 1))
    assert sorted(f.rule for f in report.findings) == ["NXL009", "NXL014"]
    assert report.suppressed == ()


def test_expiry_is_inclusive_and_uses_the_injected_date(tmp_path: Path) -> None:
    folder = with_suppression(tmp_path, "    - rule: NXL009\n      expires: 2026-03-31\n" + REASON)
    on_the_day = lint_paths([folder], today=dt.date(2026, 3, 31))
    assert on_the_day.findings == ()
    assert len(on_the_day.suppressed) == 1
    after = lint_paths([folder], today=dt.date(2026, 4, 1))
    assert sorted(f.rule for f in after.findings) == ["NXL009", "NXL012"]
    assert after.suppressed == ()
    assert after.exit_code("warning") == 1


def test_unknown_rule_id_is_reported(tmp_path: Path) -> None:
    folder = with_suppression(tmp_path, "    - rule: NXL999\n" + REASON)
    report = lint_paths([folder], today=dt.date(2026, 1, 1))
    notes = [f for f in report.findings if f.rule == "NXL014"]
    assert [n.message for n in notes] == ["suppression names rule NXL999, which does not exist"]
