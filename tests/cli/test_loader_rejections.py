"""Every loader rejection, through the CLI: exit 3, NXL000 at the exact file:line:column."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from nexusctl.document.source import MAX_BYTES

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "loader"

# (asset file, file the error is in, line, column, message)
CASES = [
    ("syntax-error.yaml", None, 24, 12,
     "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence)"),
    ("duplicate-key.yaml", None, 25, 7, "duplicate key 'sloMs' (first at line 24)"),
    ("unknown-field.yaml", None, 24, 7, "unknown field 'sloMS' (did you mean 'sloMs'?)"),
    ("wrong-type.yaml", None, 24, 7,
     "spec.routes[0].sloMs: Input should be a valid integer, unable to parse string as an "
     "integer"),
    ("empty.yaml", None, 1, 1, "file is empty (expected one YAML document)"),
    ("multiple-documents.yaml", None, 39, 1, "file holds more than one YAML document"),
    ("not-utf8.yaml", None, 5, 13, "file is not valid UTF-8 (byte 0xe9)"),
    ("non-printable.yaml", None, 4, 14,
     "YAML syntax error: unacceptable character #x0007: control characters are not allowed"),
    ("alias-bomb.yaml", None, 11, 8,
     "document expands to more than 100000 nodes through aliases (alias bomb?)"),
    ("recursive-alias.yaml", None, 8, 12, "recursive alias (a node contains itself)"),
    ("deep-nesting.yaml", None, 8, 74, "nesting deeper than 64 levels"),
    ("merge-key.yaml", None, 28, 5,
     "mapping keys must be plain strings (merge keys are not supported)"),
    ("python-tag.yaml", None, 24, 14,
     "tag tag:yaml.org,2002:python/object/apply:os.system refused"),
    ("list-at-top.yaml", None, 1, 1, "expected a mapping at the top of the document"),
    ("missing-kind.yaml", None, 1, 1,
     "missing required field 'kind' (expected 'RoutingPolicy' or 'ModelCatalog')"),
    ("wrong-kind.yaml", None, 2, 1,
     "kind is 'RoutingPolicie', expected 'RoutingPolicy' or 'ModelCatalog'"),
    ("wrong-api-version.yaml", None, 1, 1,
     "apiVersion is 'nexuscore.io/v2', expected 'nexuscore.io/v1'"),
    ("version-zero.yaml", None, 5, 3, "metadata.version must be an integer >= 1 (got 0)"),
    ("version-string.yaml", None, 5, 3, "metadata.version must be an integer >= 1 (got '1')"),
    ("version-float.yaml", None, 5, 3, "metadata.version must be an integer >= 1 (got 1.5)"),
    ("catalog-parent-escape.yaml", None, 7, 3,
     "reference '../../etc/passwd' points outside the policy's folder (no .nexusctl-root above "
     "it): to share files across folders, put an empty .nexusctl-root file in a folder above "
     "both (or pass --root DIR)"),
    ("catalog-absolute.yaml", None, 7, 3, "reference '/etc/passwd' must be a relative path"),
    ("catalog-missing.yaml", None, 7, 3,
     "referenced file 'no-such-catalog.yaml' does not exist (the path is relative to the folder "
     "of the file that names it)"),
    ("uses-broken-catalog.yaml", "catalog-missing-output.yaml", 34, 7,
     "spec.deployments[2].pricing: missing required field 'output'"),
    ("catalog-missing-output.yaml", None, 34, 7,
     "spec.deployments[2].pricing: missing required field 'output'"),
    ("catalog-pricing-kind.yaml", None, 34, 17,
     "spec.deployments[2].pricing.kind: 'flat' is not one of 'per_token', 'gpu_time'"),
    ("catalog-gpu-typo.yaml", None, 37, 9, "unknown field 'gpuHours' (did you mean 'gpuHour'?)"),
    ("catalog-capability-typo.yaml", None, 33, 29,
     "spec.deployments[2].capabilities[1]: Input should be 'tools', 'json', 'vision', "
     "'audio', 'reasoning', 'streaming' or 'long_context'"),
    ("catalog-latency-order.yaml", None, 35, 7,
     "spec.deployments[2].latency: latency points must have strictly increasing maxLoad"),
    ("catalog-price-table-escape.yaml", None, 9, 5,
     "reference '../../../pyproject.toml' points outside the policy's folder (no .nexusctl-root "
     "above it): to share files across folders, put an empty .nexusctl-root file in a folder "
     "above both (or pass --root DIR)"),
]  # fmt: skip


def lint(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["policy", "lint", *args], prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("asset", "error_file", "line", "column", "message"), CASES)
def test_loader_rejection_is_located_and_exits_3(
    asset: str, error_file: str | None, line: int, column: int, message: str
) -> None:
    path = ASSETS / asset
    code, out, _ = lint(str(path))
    where = (ASSETS / error_file).as_posix() if error_file else path.as_posix()
    assert code == 3
    assert out.splitlines()[0] == f"{where}:{line}:{column}: error NXL000 {message} [invalid-input]"


@pytest.mark.parametrize(("asset", "error_file", "line", "column", "message"), CASES[:6])
def test_loader_rejection_is_nxl000_in_json(
    asset: str, error_file: str | None, line: int, column: int, message: str
) -> None:
    code, out, _ = lint("--format", "json", str(ASSETS / asset))
    document = json.loads(out)
    assert code == 3
    assert document["exitCode"] == 3
    [item] = document["findings"]
    assert (item["rule"], item["line"], item["column"], item["message"]) == (
        "NXL000",
        line,
        column,
        message,
    )


def test_valid_asset_policy_loads_clean() -> None:
    code, out, _ = lint(str(ASSETS / "valid-policy.yaml"))
    assert code == 0, out
    assert out.startswith("1 policy and 1 catalog linted: 0 errors")


def test_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    # Generated, not committed: a 1 MiB asset would bloat the repository.
    big = tmp_path / "too-large.yaml"
    big.write_text("# " + "x" * MAX_BYTES + "\n")
    code, out, _ = lint(str(big))
    assert code == 3
    assert out.splitlines()[0] == (
        f"{big.as_posix()}:1:1: error NXL000 file is larger than the 1 MiB cap [invalid-input]"
    )


def test_symlinked_catalog_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    outside = tmp_path / "outside.yaml"
    shutil.copy(ASSETS / "catalog.yaml", outside)
    (folder / "catalog.yaml").symlink_to(outside)
    shutil.copy(ASSETS / "valid-policy.yaml", folder / "policy.yaml")
    code, out, _ = lint(str(folder / "policy.yaml"))
    assert code == 3
    assert out.splitlines()[0] == (
        f"{(folder / 'policy.yaml').as_posix()}:7:3: error NXL000 reference 'catalog.yaml' "
        f"passes through a symlink (catalog.yaml -> {outside}); symlinks are refused so that "
        "what loads is what a bundle copies and signs: name the file by its real relative path "
        "[invalid-input]"
    )


def test_missing_path_is_invalid_input() -> None:
    code, out, err = lint(str(ASSETS / "no-such-file.yaml"))
    assert code == 3
    assert out == ""
    assert "no such file or directory" in err
