"""Hostile inputs to `policy bundle / sign / verify` (issue 8, part 2): each refused cleanly.

Every case asserts the exit code and the reason. The bombs and special files run in a
subprocess that reports its peak RSS and wall time, and assert memory < 1 GB and time < 10 s:
a bound (a regression that parses 242 MB or reads /dev/zero forever breaks it), not a speed
measurement (speed lives in bench/).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexusctl.cli.app import app
from tests.conftest import ASSETS, POLICIES, REPO
from tests.e2e.signing.bundles import signed_bundle

HOSTILE = ASSETS / "hostile" / "signing"
GIB = 1 << 30

# Runs the CLI in a grandchild and reports its exit code, peak RSS (KiB) and wall seconds; the
# grandchild's address space is capped (3 GiB) so a regression fails instead of eating the box.
_BOUNDED = """
import resource, subprocess, sys, time
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
start = time.monotonic()
try:
    proc = subprocess.run(sys.argv[1:], preexec_fn=cap, capture_output=True, timeout=60)
    code, err = proc.returncode, proc.stderr.decode(errors="replace")
except subprocess.TimeoutExpired:
    code, err = "timeout", ""
seconds = time.monotonic() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(repr((code, peak, seconds, err)))
"""


@dataclass(frozen=True)
class Bounded:
    """What a bounded CLI run did."""

    code: int | str
    peak_bytes: int
    seconds: float
    stderr: str

    def assert_bounded(self) -> None:
        assert self.peak_bytes < GIB, f"peak RSS {self.peak_bytes / 2**20:.0f} MiB"
        assert self.seconds < 10, f"took {self.seconds:.1f} s"


def run_bounded(*args: str) -> Bounded:
    """Run `nexusctl ARGS` in a subprocess; return its exit code, peak RSS, time and stderr."""
    cli = [sys.executable, "-c", "from nexusctl.cli.entry import main; main()", *args]
    out = subprocess.run(
        [sys.executable, "-c", _BOUNDED, *cli],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    code, peak_kib, seconds, err = eval(out.stdout.strip())  # noqa: S307 - our own repr()
    return Bounded(code, peak_kib * 1024, seconds, err)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="nexusctl")
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str) -> None:
    code, _, err = run(*args)
    assert code == 0, err


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signed, attested bundle with its key and a trust policy beside it."""
    root = tmp_path_factory.mktemp("hostile")
    signed_bundle(root)
    (root / "trust.yaml").write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  environments:\n    prod:\n      keys: [{id: k, path: k.pub}]\n"
    )
    return root


@pytest.fixture
def bundle(signed: Path, tmp_path: Path) -> Path:
    shutil.copytree(signed / "b", tmp_path / "b")
    shutil.copy(signed / "k.pub", tmp_path / "k.pub")
    shutil.copy(signed / "trust.yaml", tmp_path / "trust.yaml")
    return tmp_path / "b"


def verify_args(bundle: Path) -> list[str]:
    return ["policy", "verify", str(bundle), "--trust", str(bundle.parent / "trust.yaml")]


def reason_of(bundle: Path) -> str:
    code, out, err = run(*verify_args(bundle), "--format", "json")
    assert code == 5, err
    reason = json.loads(out)["reason"]
    assert f"[{reason}]" in err
    return str(reason)


# --- named hostile files -------------------------------------------------------------------


@pytest.mark.parametrize(
    "asset",
    [
        "deep-nesting.sigstore.json",
        "huge-integer.sigstore.json",
        "duplicate-key.sigstore.json",
        "nan.sigstore.json",
    ],
)
def test_hostile_signature_file(bundle: Path, asset: str) -> None:
    shutil.copy(HOSTILE / asset, bundle / "signature.sigstore.json")
    assert reason_of(bundle) == "malformed-signature"


@pytest.mark.parametrize(
    "asset",
    [
        "manifest-size-1e400.json",
        "manifest-huge-integer.json",
        "manifest-negative-size.json",
        "manifest-float-size.json",
        "manifest-deep-nesting.json",
        "manifest-duplicate-key.json",
    ],
)
def test_hostile_manifest(bundle: Path, asset: str) -> None:
    shutil.copy(HOSTILE / asset, bundle / "manifest.json")
    assert reason_of(bundle) == "malformed-manifest"


def test_hostile_attestation_file(bundle: Path) -> None:
    shutil.copy(
        HOSTILE / "deep-nesting.sigstore.json", bundle / "attestations" / "provenance.sigstore.json"
    )
    assert reason_of(bundle) == "malformed-signature"


# --- bombs, generated at test time ---------------------------------------------------------


def test_100k_deep_signature_is_bounded(bundle: Path) -> None:
    deep = b'{"mediaType": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (bundle / "signature.sigstore.json").write_bytes(deep)
    result = run_bounded(*verify_args(bundle))
    assert result.code == 5, result.stderr
    assert "[malformed-signature]" in result.stderr
    result.assert_bounded()


def test_100k_deep_manifest_is_bounded(bundle: Path) -> None:
    (bundle / "manifest.json").write_bytes(b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    result = run_bounded(*verify_args(bundle))
    assert result.code == 5, result.stderr
    assert "[malformed-manifest]" in result.stderr
    result.assert_bounded()


def test_manifest_with_too_many_entries_refused_before_validation(bundle: Path) -> None:
    """150k entries in 9 MB: under the byte cap, over the entry cap (counted before parsing)."""
    entry = b'{"path":"x","role":"extra","sha256":"' + b"0" * 64 + b'","size":1}'
    (bundle / "manifest.json").write_bytes(b'{"files":[' + b",".join([entry] * 150_000) + b"]}")
    result = run_bounded(*verify_args(bundle))
    assert result.code == 5, result.stderr
    assert "[manifest-too-large]" in result.stderr
    result.assert_bounded()


@pytest.mark.slow
def test_242_mb_manifest_is_bounded(bundle: Path) -> None:
    """The reported bomb: 2M entries, 242 MB, once 2.8 GB of memory. Refused unread."""
    entry = b'{"path":"f%07d","role":"extra","sha256":"' + b"0" * 64 + b'","size":1},'
    with (bundle / "manifest.json").open("wb") as handle:
        handle.write(b'{"files":[')
        for start in range(0, 2_000_000, 100_000):
            handle.write(b"".join(entry % i for i in range(start, start + 100_000)))
        handle.write(b'{"path":"z","role":"extra","sha256":"' + b"0" * 64 + b'","size":1}]}')
    assert (bundle / "manifest.json").stat().st_size > 240_000_000
    result = run_bounded(*verify_args(bundle))
    assert result.code == 5, result.stderr
    assert "[manifest-too-large]" in result.stderr
    result.assert_bounded()


def test_folder_nested_1500_deep_is_bounded(bundle: Path) -> None:
    levels = [str(bundle) + "/d" * depth for depth in range(1, 1501)]
    made: list[str] = []
    try:
        for level in levels:  # one at a time: Path.mkdir(parents=True) itself recurses
            os.mkdir(level)
            made.append(level)
        Path(levels[-1], "x").write_text("x")
        result = run_bounded(*verify_args(bundle))
    finally:
        # Remove deepest first: shutil.rmtree (and pytest's tmp cleanup) would recurse.
        Path(levels[-1], "x").unlink(missing_ok=True)
        for level in reversed(made):
            os.rmdir(level)
    assert result.code == 5, result.stderr
    assert "[unsafe-entry]" in result.stderr
    assert "deeper than" in result.stderr
    result.assert_bounded()


# --- special files as keys, certificates and trust material --------------------------------


def test_sign_with_dev_zero_key_is_bounded(bundle: Path) -> None:
    result = run_bounded("policy", "sign", str(bundle), "--key", "/dev/zero")
    assert result.code == 3, result.stderr
    assert "not a regular file" in result.stderr
    result.assert_bounded()


def test_sign_with_fifo_key_does_not_hang(bundle: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    result = run_bounded("policy", "sign", str(bundle), "--key", str(fifo))
    assert result.code == 3, result.stderr
    assert "not a regular file" in result.stderr
    result.assert_bounded()


def test_sign_with_fifo_certificate_does_not_hang(
    bundle: Path, signed: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "cert.fifo"
    os.mkfifo(fifo)
    result = run_bounded(
        "policy", "sign", str(bundle), "--key", str(signed / "k.pem"),
        "--certificate", str(fifo),
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert "not a regular file" in result.stderr


def test_keyless_trust_config_fifo_does_not_hang(bundle: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "tc.fifo"
    os.mkfifo(fifo)
    result = run_bounded(
        "policy", "sign", str(bundle), "--keyless", "--trust-config", str(fifo),
        "--identity-token", "x.y.z",
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert "not a regular file" in result.stderr


@pytest.mark.parametrize(
    "field", ["keys: [{id: z, path: KEY}]", "certificateAuthorities: [{id: z, path: KEY}]"]
)
@pytest.mark.parametrize("how", ["absolute", "symlink", "fifo"])
def test_trust_policy_special_file_is_refused(bundle: Path, field: str, how: str) -> None:
    folder = bundle.parent
    if how == "absolute":
        reference = "/dev/zero"
    elif how == "symlink":
        (folder / "zero.pub").symlink_to("/dev/zero")
        reference = "zero.pub"
    else:
        os.mkfifo(folder / "key.fifo")
        reference = "key.fifo"
    (folder / "trust.yaml").write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        f"spec:\n  environments:\n    prod:\n      {field.replace('KEY', reference)}\n"
    )
    result = run_bounded(*verify_args(bundle))
    assert result.code == 3, result.stderr
    assert reference in result.stderr
    expected = {"absolute": "relative path", "symlink": "outside", "fifo": "not a regular file"}
    assert expected[how] in result.stderr
    result.assert_bounded()


def test_trust_policy_path_outside_its_folder_is_refused(bundle: Path, signed: Path) -> None:
    (bundle.parent / "trust.yaml").write_text(
        "apiVersion: nexuscore.io/v1\nkind: TrustPolicy\nmetadata: {name: t, version: 1}\n"
        "spec:\n  environments:\n    prod:\n"
        f"      keys: [{{id: k, path: ../{signed.name}/k.pub}}]\n"
    )
    code, _, err = run(*verify_args(bundle))
    assert code == 3
    assert "outside" in err


# --- signing keys others can read ----------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_key_readable_or_writable_by_others_is_refused(
    bundle: Path, tmp_path: Path, mode: int
) -> None:
    key = tmp_path / "open.pem"
    ok("key", "generate", "--out", str(key))
    key.chmod(mode)
    before = (bundle / "signature.sigstore.json").read_bytes()
    code, _, err = run("policy", "sign", str(bundle), "--key", str(key))
    assert code == 3
    assert "accessible by group or others" in err
    assert f"chmod 600 {key}" in err
    assert (bundle / "signature.sigstore.json").read_bytes() == before


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_modes_that_are_accepted(bundle: Path, tmp_path: Path, mode: int) -> None:
    key = tmp_path / "own.pem"
    ok("key", "generate", "--out", str(key))
    key.chmod(mode)
    ok("policy", "sign", str(bundle), "--key", str(key))


# --- attestations that claim to be something they are not ----------------------------------


def test_attestation_of_unknown_kind_is_refused(bundle: Path) -> None:
    shutil.copy(
        bundle / "attestations" / "provenance.sigstore.json",
        bundle / "attestations" / "sbom.sigstore.json",
    )
    assert reason_of(bundle) == "unknown-attestation"


def test_attestation_whose_predicate_is_not_its_kind_is_refused(bundle: Path) -> None:
    (bundle / "attestations" / "provenance.sigstore.json").rename(
        bundle / "attestations" / "routing-diff.sigstore.json"
    )
    assert reason_of(bundle) == "wrong-predicate"


# --- a signed statement that tells other verifiers to skip too much -----------------------


def test_statement_ignoring_all_of_attestations_is_refused(bundle: Path, signed: Path) -> None:
    """Validly signed, but it would let model-signing accept any file under attestations/."""
    import base64

    from nexusctl.canonical import canonical_bytes
    from nexusctl.signing import KeySigner

    path = bundle / "signature.sigstore.json"
    statement = json.loads(
        base64.b64decode(json.loads(path.read_bytes())["dsseEnvelope"]["payload"])
    )
    statement["predicate"]["serialization"]["ignore_paths"] = [
        "attestations",
        "signature.sigstore.json",
    ]
    path.write_bytes(
        KeySigner.from_file(signed / "k.pem").sign_statement(canonical_bytes(statement))
    )
    assert reason_of(bundle) == "ignore-paths-too-broad"


def test_bundle_include_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    source = tmp_path / "policies"
    shutil.copytree(POLICIES, source)
    os.mkfifo(source / "calibration.fifo")
    result = run_bounded(
        "policy", "bundle", str(source / "retail-chat.yaml"), "-o", str(tmp_path / "out"),
        "--include", str(source / "calibration.fifo"),
    )  # fmt: skip
    assert result.code == 3, result.stderr
    assert "not a regular file" in result.stderr
    assert not (tmp_path / "out").exists()
