"""`nexusctl catalog prices`: check, write in place (comments kept), and every bad table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from nexusctl.cli.app import app
from nexusctl.policy.loader import load_catalog
from tests.conftest import ASSETS, POLICIES

PRICES = ASSETS / "prices"


def prices(*args: str) -> Result:
    return CliRunner().invoke(app, ["catalog", "prices", *args], prog_name="nexusctl")


@pytest.fixture
def nebula(tmp_path: Path) -> Path:
    """A copy of the shipped Nebula catalog with its price table."""
    shutil.copy(POLICIES / "catalog.yaml", tmp_path / "catalog.yaml")
    shutil.copytree(POLICIES / "prices", tmp_path / "prices")
    return tmp_path / "catalog.yaml"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A copy of the small test catalog (block- and flow-style pricing, one GPU-priced)."""
    for path in PRICES.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / "catalog.yaml"


def test_shipped_catalog_is_in_sync_with_its_table() -> None:
    result = prices(str(POLICIES / "catalog.yaml"), "--from", "litellm")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "prices in sync with" in result.stdout


def test_changed_price_check_write_check(nebula: Path) -> None:
    original = nebula.read_text(encoding="utf-8")
    nebula.write_text(original.replace("input: 165000", "input: 170000", 1), encoding="utf-8")
    before = nebula.read_text(encoding="utf-8")

    check = prices(str(nebula), "--from", "litellm", "--check")
    assert check.exit_code == 1
    lines = check.stdout.splitlines()
    assert lines[0].split() == ["deployment", "field", "catalog", "table", "location"]
    assert lines[1].split() == [
        "azure-eu-gpt4o-mini",
        "input",
        "170000",
        "165000",
        f"{nebula}:26:9",
    ]
    assert len(lines) == 2
    assert "1 price(s) differ" in check.stderr
    assert nebula.read_text(encoding="utf-8") == before

    write = prices(str(nebula), "--from", "litellm", "--write")
    assert write.exit_code == 0, write.stderr
    assert "1 price(s) updated" in write.stderr
    assert nebula.read_text(encoding="utf-8") == original  # byte for byte: comments kept

    again = prices(str(nebula), "--from", "litellm")
    assert again.exit_code == 0
    assert not [p for p in nebula.parent.iterdir() if p.name.endswith(".tmp")]


def test_write_inserts_removes_and_replaces_in_block_and_flow_style(small: Path) -> None:
    table = small.parent / "prices-changed.json"
    check = prices(str(small), "--from", "litellm", "--table", str(table))
    assert check.exit_code == 1
    assert [line.split()[:4] for line in check.stdout.splitlines()[1:]] == [
        ["block-style", "input", "165000", "150000"],
        ["block-style", "cachedInput", "83000", "-"],
        ["block-style", "reasoning", "-", "1200000"],
        ["flow-style", "input", "2000000", "2500000"],
        ["flow-style", "cachedInput", "-", "500000"],
    ]
    write = prices(str(small), "--from", "litellm", "--table", str(table), "--write")
    assert write.exit_code == 0, write.stderr
    text = small.read_text(encoding="utf-8")
    assert "        input: 150000      # keep this comment\n" in text
    assert "cachedInput: 83000" not in text
    assert "        output: 660000\n        reasoning: 1200000\n        source:\n" in text
    assert (
        "      pricing: {kind: per_token, input: 2500000, cachedInput: 500000, output: 8000000, "
        'source: {table: test-table, key: "model-b"}}\n'
    ) in text
    assert text.startswith("# yaml-language-server: $schema=../../../schemas/ModelCatalog.json\n")
    catalog = load_catalog(small).catalog
    block, flow, gpu = catalog.spec.deployments
    assert block.pricing is not None
    assert block.pricing.kind == "per_token"
    assert (block.pricing.input, block.pricing.cached_input, block.pricing.reasoning) == (
        150000,
        None,
        1200000,
    )
    assert flow.pricing is not None
    assert flow.pricing.kind == "per_token"
    assert (flow.pricing.input, flow.pricing.cached_input) == (2500000, 500000)
    assert gpu.pricing is not None
    assert gpu.pricing.kind == "gpu_time"
    assert prices(str(small), "--from", "litellm", "--table", str(table)).exit_code == 0


def test_write_keeps_crlf_line_endings(small: Path) -> None:
    small.write_bytes(small.read_bytes().replace(b"\n", b"\r\n"))
    table = small.parent / "prices-changed.json"
    write = prices(str(small), "--from", "litellm", "--table", str(table), "--write")
    assert write.exit_code == 0, write.stderr
    data = small.read_bytes()
    assert b"reasoning: 1200000\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_json_format_is_one_document(small: Path) -> None:
    table = small.parent / "prices-changed.json"
    result = prices(str(small), "--from", "litellm", "--table", str(table), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["inSync"] is False
    assert doc["written"] is False
    assert doc["unit"] == "micro-USD per million tokens"
    assert doc["differences"][0] == {
        "deployment": "block-style",
        "field": "input",
        "catalog": 165000,
        "table": 150000,
        "location": f"{small}:21:9",
    }


@pytest.mark.parametrize(
    ("table", "where", "message"),
    [
        (
            "prices-missing-key.json",
            "catalog.yaml:36:95",
            "deployment 'flow-style': key 'model-b' is not in price table",
        ),
        (
            "prices-non-numeric.json",
            "catalog.yaml:26:11",
            "'acme/model-a'.input_cost_per_token is not a number: '0.000000165'",
        ),
        (
            "prices-absurd-precision.json",
            "catalog.yaml:36:95",
            "is not a whole number of micro-USD per million tokens",
        ),
        ("prices-negative.json", "catalog.yaml:26:11", "input_cost_per_token is negative"),
        (
            "prices-missing-input.json",
            "catalog.yaml:26:11",
            "entry 'acme/model-a' has no 'input_cost_per_token'",
        ),
        (
            "prices-entry-not-object.json",
            "catalog.yaml:26:11",
            "entry 'acme/model-a' is not a JSON object",
        ),
        ("prices-not-json.json", "prices-not-json.json:3:1", "price table is not JSON"),
        (
            "prices-not-object.json",
            "prices-not-object.json",
            "must be a JSON object keyed by model",
        ),
        ("does-not-exist.json", "does-not-exist.json", "price table not found"),
    ],
)
@pytest.mark.parametrize("mode", ["--check", "--write"])
def test_bad_table_exits_3_with_location_and_writes_nothing(
    small: Path, table: str, where: str, message: str, mode: str
) -> None:
    before = small.read_bytes()
    result = prices(str(small), "--from", "litellm", "--table", str(small.parent / table), mode)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {small.parent / where}")
    assert message in first
    assert "Traceback" not in result.stderr
    assert small.read_bytes() == before
    assert not [p for p in small.parent.iterdir() if p.name.endswith(".tmp")]


def test_default_table_is_the_catalogs_price_table(small: Path) -> None:
    result = prices(str(small), "--from", "litellm")
    assert result.exit_code == 0, result.stderr
    assert "prices-ok.json" in result.stdout


def test_catalog_without_price_table_needs_table_flag(small: Path) -> None:
    text = small.read_text(encoding="utf-8")
    small.write_text(
        text.replace("  priceTable:\n    name: test-table\n    path: prices-ok.json\n", ""),
        encoding="utf-8",
    )
    result = prices(str(small), "--from", "litellm")
    assert result.exit_code == 3
    assert "has no spec.priceTable" in result.stderr
    assert "--table" in result.stderr


def test_invalid_catalog_exits_3_with_its_location(small: Path) -> None:
    small.write_text(small.read_text().replace("input: 165000", "input: cheap"), encoding="utf-8")
    result = prices(str(small), "--from", "litellm")
    assert result.exit_code == 3
    assert f"{small}:21:9" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],  # --from is required
        ["--from", "openrouter"],
        ["--from", "litellm", "--format", "yaml"],
    ],
)
def test_usage_errors_exit_2(small: Path, args: list[str]) -> None:
    result = prices(str(small), *args)
    assert result.exit_code == 2


def test_newer_table_reports_every_missing_key_and_every_change(small: Path) -> None:
    """The first deployment's key is gone from the newer table; the later change still shows."""
    table = small.parent / "prices-newer-table.json"
    before = small.read_bytes()
    text = prices(str(small), "--from", "litellm", "--table", str(table), "--check")
    assert text.exit_code == 3
    assert [line.split()[:4] for line in text.stdout.splitlines()[1:]] == [
        ["flow-style", "input", "2000000", "2500000"],
        ["flow-style", "cachedInput", "-", "500000"],
    ]
    assert text.stderr.splitlines()[0] == (
        f"error: {small}:26:11: deployment 'block-style': key 'acme/model-a' is not in "
        f"price table {table}"
    )

    doc = json.loads(
        prices(str(small), "--from", "litellm", "--table", str(table), "--format", "json").stdout
    )
    assert doc["inSync"] is False
    assert [(d["deployment"], d["field"]) for d in doc["differences"]] == [
        ("flow-style", "input"),
        ("flow-style", "cachedInput"),
    ]
    assert [(p["deployment"], p["key"]) for p in doc["problems"]] == [
        ("block-style", "acme/model-a")
    ]

    write = prices(str(small), "--from", "litellm", "--table", str(table), "--write")
    assert write.exit_code == 3
    assert "the catalog was not changed" in write.stderr
    assert small.read_bytes() == before
