"""The sample policy repository (examples/policy-repo) through the whole CI lifecycle.

The test makes a real git repository from the example, a real registry (``registry init``)
and a clone of it as the workflow's release job makes, then runs the action's own scripts
with the environment ``.github/workflows/policy-gate.yml`` gives them, in the workflow's
order, nexusctl on PATH:

1. first push: ``release.sh`` bundles, signs, attests, publishes v3 and promotes it to dev and
   staging (nothing is live yet, so no simulation is due);
2. a pull request that moves too many decisions: ``pr-gate.sh`` lints (SARIF), simulates it
   against what is live in staging *from the registry*, comments on the fake GitHub API, and
   fails the job (exit 6);
3. a pull request that passes: same steps, exit 0, the one sticky comment updated;
4. its merge: ``release.sh`` publishes v4, promotes it to dev, simulates it against v3 live in
   staging, signs the routing-diff attestation and promotes it to staging with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nexusctl.ci import marker
from tests.e2e.fake_forges import FakeForge

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "policy-repo"
SCRIPTS = REPO / ".github" / "actions" / "nexusctl" / "scripts"
BIN = Path(sys.executable).parent
NEXUSCTL = str(BIN / "nexusctl")
TOKEN = "ghs_policy_repo_token"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: "before" a first push


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@nexus.test", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def _nexusctl(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [NEXUSCTL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    return subprocess.run(
        ["bash", str(SCRIPTS / script)],
        cwd=cwd,
        env={**clean, "PATH": f"{BIN}{os.pathsep}{clean['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _config(keys: Path, traffic_sha: str, gates_sha: str, location: str = "") -> str:
    def pem(who: str) -> str:
        return "".join(
            f"        {line}\n" for line in (keys / f"{who}.pub").read_text().splitlines()
        )

    return (
        "apiVersion: nexuscore.io/v1\nkind: RegistryConfig\n"
        "metadata: {name: nebula-policies, version: 1}\nspec:\n  keys:\n"
        f"    - id: admin\n      pem: |\n{pem('admin')}"
        f"    - id: release\n      pem: |\n{pem('release')}"
        "  admins: {keys: [admin], threshold: 1}\n  releasers: [release]\n  environments:\n"
        "    - name: dev\n      trustEnvironment: dev\n      gates: [signature]\n"
        "    - name: staging\n      trustEnvironment: staging\n"
        "      gates: [order, signature, simulation]\n"
        f"      trafficSamples: [{{name: sample, sha256: {traffic_sha}{location}}}]\n"
        f"      gatesSha256: {gates_sha}\n"
    )


TRUST = """apiVersion: nexuscore.io/v1
kind: TrustPolicy
metadata: {name: nebula-policies-trust, version: 1}
spec:
  environments:
    dev: {keys: [{id: release, path: release.pub}]}
    staging:
      keys: [{id: release, path: release.pub}]
      requiredAttestations: [provenance]
"""


def _edit_policy(path: Path, version: int, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    text = text.replace("  version: 3\n", f"  version: {version}\n", 1)
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_example_repository_through_pull_requests_and_merges(tmp_path: Path) -> None:
    # -- the policy repository, as a team would start it from the example ------------------
    root = tmp_path / "policy-repo"
    shutil.copytree(EXAMPLE, root)
    _nexusctl("policy", "lint", "policies", cwd=root)
    traffic = root / "traffic" / "sample.parquet"
    _nexusctl(
        "traffic",
        "synth",
        "--rows",
        "4000",
        "--seed",
        "5",
        "--policy",
        "policies/retail-chat.yaml",
        "-o",
        str(traffic),
        cwd=root,
    )
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    assert "traffic/sample.parquet" not in _git(root, "status", "--porcelain", "--ignored=no")
    _git(root, "commit", "-qm", "retail-chat v3")
    first = _git(root, "rev-parse", "HEAD")

    # -- the registry: init by the admin; the release job works in a clone of it -----------
    keys = tmp_path / "keys"
    keys.mkdir()
    for who in ("admin", "release"):
        _nexusctl("key", "generate", "--out", str(keys / f"{who}.pem"))
    # staging registers the sample by digest and keeps it in the registry.
    kept = ", location: traffic/sample.parquet"
    (keys / "registry.yaml").write_text(
        _config(keys, _sha256(traffic), _sha256(root / "gates.yaml"), kept)
    )
    (keys / "trust.yaml").write_text(TRUST)
    origin = tmp_path / "registry"
    _nexusctl(
        "registry",
        "init",
        str(origin),
        "--config",
        str(keys / "registry.yaml"),
        "--trust",
        str(keys / "trust.yaml"),
        "--key",
        str(keys / "admin.pem"),
    )
    _git(origin, "config", "receive.denyCurrentBranch", "updateInstead")
    (origin / "traffic").mkdir()
    shutil.copy(traffic, origin / "traffic" / "sample.parquet")
    _git(origin, "add", "traffic")
    _git(origin, "commit", "-qm", "staging's registered traffic sample")
    clone = tmp_path / "runner" / "registry"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    shutil.copy(
        origin / "tuf" / "staging" / "metadata" / "1.root.json",
        root / "registry" / "staging.root.json",
    )

    release_env = {
        "POLICIES": "policies",
        "SIGN_ARGS": f"--key\n{keys / 'release.pem'}",
        "REGISTRY": str(clone),
        "REGISTRY_KEY": str(keys / "release.pem"),
        "ENVIRONMENT": "dev staging",
        "GATES": "gates.yaml",
    }

    # -- 1. the first push: v3 goes live in dev and staging ---------------------------------
    proc = _run(
        "release.sh", root, BEFORE_REF=EMPTY_TREE, OUT=str(tmp_path / "out-1"), **release_env
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "published retail-chat@3" in proc.stdout
    status = json.loads(_nexusctl("registry", "status", "-r", str(origin), "--format", "json"))
    live = {env["name"]: env["live"] for env in status["environments"]}
    assert live["dev"]["retail-chat"]["version"] == 3
    assert live["staging"]["retail-chat"]["version"] == 3

    # No TRAFFIC: pull requests replay the sample staging registers, taken from the registry.
    pr_env = {
        "POLICIES": "policies",
        "GATES": "gates.yaml",
        "BASE_REF": first,
        "REGISTRY_URL": str(origin),
        "REGISTRY_ROOT": "registry/staging.root.json",
        "ENVIRONMENT": "dev staging",
        "COMMENT_PLATFORM": "github",
        "COMMENT_REPO": "nebula/policies",
        "COMMENT_NUMBER": "7",
        "COMMENT_REPORT_URL": "https://ci.example/runs/7",
        "GITHUB_TOKEN": TOKEN,
    }
    policy = root / "policies" / "retail-chat.yaml"
    with FakeForge("github", token=TOKEN, repo="nebula/policies", number=7) as forge:
        # -- 2. a pull request that moves too many decisions: the job fails -----------------
        _git(root, "checkout", "-q", "-b", "widen-mid")
        shutil.copy(REPO / "policies" / "nebula" / "retail-chat.candidate.yaml", policy)
        _git(root, "commit", "-qam", "retail-chat v4: advice climbs to mid earlier")
        out = tmp_path / "out-2"
        failed = _run(
            "pr-gate.sh",
            root,
            OUT=str(out),
            COMMENT_API_URL=forge.api_url,
            GITHUB_OUTPUT=str(tmp_path / "gh-output"),
            **pr_env,
        )
        assert failed.returncode == 6, failed.stdout[-2000:] + failed.stderr[-3000:]
        assert (
            "baseline for policies/retail-chat.yaml: retail-chat live in staging, from the "
            "registry" in failed.stdout
        )
        sample = (origin / "traffic" / "sample.parquet").resolve()
        assert f"traffic: the sample registered for staging, digest checked ({sample})" in (
            failed.stdout
        )
        first_report = (out / "reports" / "retail-chat.md").read_text(encoding="utf-8")
        assert first_report.startswith("## ❌ Policy simulation: retail-chat v3 → retail-chat v4")
        sarif = json.loads((out / "lint.sarif").read_text(encoding="utf-8"))
        assert sarif["version"] == "2.1.0"

        # -- 3. the change the team settles on: only the wealth tenant's budget moves -------
        _git(root, "checkout", "-q", "main")
        _edit_policy(
            policy, 4, "      monthlyBudget: 15000000000\n", "      monthlyBudget: 18000000000\n"
        )
        _git(root, "commit", "-qam", "retail-chat v4: wealth budget to 18k USD a month")
        out = tmp_path / "out-3"
        passed = _run("pr-gate.sh", root, OUT=str(out), COMMENT_API_URL=forge.api_url, **pr_env)
        assert passed.returncode == 0, passed.stdout[-2000:] + passed.stderr[-3000:]
        report = (out / "reports" / "retail-chat.md").read_text(encoding="utf-8")
        assert report.startswith("## ✅ Policy simulation: retail-chat v3 → retail-chat v4")
        bodies = forge.bodies()
        posts = forge.calls("POST")

        # -- a sample changed after it was registered is refused, before any simulation ----
        original = sample.read_bytes()
        sample.write_bytes(original + b"\0")
        try:
            refused = _run("pr-gate.sh", root, OUT=str(tmp_path / "out-x"), **pr_env)
        finally:
            sample.write_bytes(original)
        assert refused.returncode == 5, refused.stdout[-2000:] + refused.stderr[-3000:]
        assert f"is not the sample 'sample' registered for 'staging' ({_sha256(traffic)})" in (
            refused.stderr
        )
        assert not (tmp_path / "out-x" / "reports" / "retail-chat.md").exists()
        assert forge.calls("POST") == posts  # nothing posted
    # One sticky comment: created by the failing run, updated in place by the passing one.
    assert len(posts) == 1
    assert bodies == [marker("retail-chat") + "\n" + report]
    for proc in (failed, passed):
        assert TOKEN not in proc.stdout + proc.stderr

    # -- 4. the merge: v4 published, in dev, simulated against staging's v3, promoted -------
    proc = _run("release.sh", root, BEFORE_REF=first, OUT=str(tmp_path / "out-4"), **release_env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "published retail-chat@4" in proc.stdout
    # The job log shows what was signed (policy inspect), source commit included.
    head = _git(root, "rev-parse", "HEAD")
    assert "inspect does not verify; run policy verify\nbundle retail-chat-v4" in proc.stdout
    assert f"  commit {head} (clean)" in proc.stdout
    attestation = tmp_path / "out-4" / "bundles" / "retail-chat.staging.routing-diff.sigstore.json"
    assert attestation.is_file()
    status = json.loads(_nexusctl("registry", "status", "-r", str(origin), "--format", "json"))
    live = {env["name"]: env["live"] for env in status["environments"]}
    assert live["staging"]["retail-chat"]["version"] == 4
    history = json.loads(
        _nexusctl("registry", "history", "-r", str(origin), "--env", "staging", "--format", "json")
    )
    assert "simulation" in json.dumps(history)


def test_a_new_policy_then_a_refused_promotion(tmp_path: Path) -> None:
    """A fresh registry: the PR adding the policy has no baseline; on merge, staging needs an
    approval, so v3 reaches dev and the release stops before staging without failing."""
    root = tmp_path / "policy-repo"
    shutil.copytree(EXAMPLE, root)
    policy = root / "policies" / "retail-chat.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.unlink()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "the catalog")
    first = _git(root, "rev-parse", "HEAD")
    policy.write_text(text, encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "retail-chat v3")
    keys = tmp_path / "keys"
    keys.mkdir()
    for who in ("admin", "release"):
        _nexusctl("key", "generate", "--out", str(keys / f"{who}.pem"))
    config = _config(keys, "ab" * 32, "cd" * 32).replace(
        "      gates: [order, signature, simulation]\n",
        "      gates: [order, signature, approvals]\n"
        "      approvers: {keys: [admin], threshold: 1}\n",
    )
    (keys / "registry.yaml").write_text(config)
    (keys / "trust.yaml").write_text(TRUST)
    registry = tmp_path / "registry"
    _nexusctl(
        "registry",
        "init",
        str(registry),
        "--config",
        str(keys / "registry.yaml"),
        "--trust",
        str(keys / "trust.yaml"),
        "--key",
        str(keys / "admin.pem"),
    )
    (tmp_path / "traffic.parquet").write_bytes(b"")  # never read: there is nothing to compare
    proc = _run(
        "pr-gate.sh",
        root,
        TRAFFIC=str(tmp_path / "traffic.parquet"),
        BASE_REF=first,
        OUT=str(tmp_path / "out-pr"),
        REGISTRY_URL=str(registry),
        ENVIRONMENT="dev staging",
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "nothing named retail-chat is live in staging" in proc.stdout
    report = (tmp_path / "out-pr" / "reports" / "retail-chat.md").read_text(encoding="utf-8")
    assert report == (
        "## New policy `policies/retail-chat.yaml`\n\nNo version live in staging to compare with.\n"
    )
    proc = _run(
        "release.sh",
        root,
        POLICIES="policies",
        BEFORE_REF=first,
        OUT=str(tmp_path / "out"),
        SIGN_ARGS=f"--key\n{keys / 'release.pem'}",
        REGISTRY=str(registry),
        REGISTRY_KEY=str(keys / "release.pem"),
        ENVIRONMENT="dev staging",
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "retail-chat@3 stays out of staging: a promotion gate refused it" in proc.stdout
    status = json.loads(_nexusctl("registry", "status", "-r", str(registry), "--format", "json"))
    live = {env["name"]: env["live"] for env in status["environments"]}
    assert live["dev"]["retail-chat"]["version"] == 3
    assert live["staging"] == {}
