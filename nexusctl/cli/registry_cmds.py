"""`registry ...`: the git-backed registry (thin adapters over nexusctl.registry)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nexusctl.cli._apps import registry_app
from nexusctl.cli._common import (
    TextOrJson,
    handle_errors,
    stderr_console,
    stdout_console,
    write_stdout,
)
from nexusctl.cli._signing import CertOpt, ChainOpt, KeylessOpt, TokenOpt, TrustConfigOpt
from nexusctl.errors import UsageError

if TYPE_CHECKING:
    from nexusctl.registry.diff import EnvironmentDiff

RepoOpt = Annotated[
    Path, typer.Option("--registry", "-r", help="The registry clone (a git work tree).")
]
KeyOpt = Annotated[Path, typer.Option("--key", help="Your PEM ECDSA private key.")]
SignKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Your PEM ECDSA private key (a registry key), or the key of --certificate.",
    ),
]
FormatOpt = Annotated[TextOrJson, typer.Option("--format", help="text or json.")]
TufKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--tuf-key",
        help="Key that signs the environment's TUF metadata (one of the config's tufKeys): "
        "needed when you sign with --certificate or --keyless.",
    ),
]
RefArg = Annotated[str, typer.Argument(help="NAME@VERSION, e.g. retail-chat@3.")]


def _clock() -> Any:
    from nexusctl.clock import SYSTEM_CLOCK

    return SYSTEM_CLOCK


def _actor(
    key: Path | None,
    certificate: Path | None,
    chain: Path | None,
    keyless: bool,
    trust_config: Path | None,
    identity_token: str | None,
) -> Any:
    """A registry key path, or a certificate/keyless signer built like `policy sign`'s."""
    from nexusctl.cli._signing import make_signer

    if key is not None and certificate is None and chain is None and not keyless:
        return key
    return make_signer(key, certificate, chain, keyless, trust_config, identity_token)


def _event(result: Any, output_format: str) -> None:
    if output_format == "json":
        write_stdout(json.dumps(result.to_json(), indent=2))
        return
    predicate = result.predicate
    lines = [f"recorded {result.event} as record {result.sequence} (commit {result.commit[:12]})"]
    if predicate.bundle is not None:
        ref = predicate.bundle
        lines.append(f"  bundle {ref.name} v{ref.version} {ref.digest}")
    for gate in predicate.gates:
        detail = f" ({gate.detail})" if gate.detail else ""
        lines.append(f"  gate {gate.name}: {gate.verdict}{detail}")
    write_stdout("\n".join(lines))


@registry_app.command("init")
@handle_errors
def init(
    path: Annotated[Path, typer.Argument(help="Folder to create the registry in (empty).")],
    config: Annotated[Path, typer.Option("--config", help="RegistryConfig YAML (version 1).")],
    trust: Annotated[
        Path, typer.Option("--trust", help="Trust policy YAML for bundle signatures.")
    ],
    key: Annotated[
        list[Path], typer.Option("--key", help="Admin private key; repeat up to the threshold.")
    ],
    releaser_key: Annotated[
        Path | None,
        typer.Option(
            "--releaser-key",
            help="A releaser's private key: also publish every environment's empty TUF "
            "metadata, so `resolve` answers 'not live' (exit 5) before the first promotion.",
        ),
    ] = None,
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Create a registry: a git repository holding the admin-signed config and trust policy."""
    from nexusctl.registry.ops import init_registry

    result = init_registry(path, config, trust, key, _clock(), releaser_key=releaser_key)
    _event(result, output_format)


@registry_app.command("publish")
@handle_errors
def publish(
    bundle: Annotated[
        Path, typer.Argument(help="Signed bundle folder (`policy bundle` + `sign`).")
    ],
    key: SignKeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
    registry: RepoOpt = Path("."),
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Verify a bundle under the first environment's trust policy and store it by digest.

    Sign as a registry key (--key), or as a certificate identity of the config's releasers
    (--key with --certificate/--chain, or --keyless), exactly like `policy sign`.
    """
    from nexusctl.registry.ops import publish as run

    actor = _actor(key, certificate, chain, keyless, trust_config, identity_token)
    _event(run(registry, bundle, actor, _clock()), output_format)


@registry_app.command("approve")
@handle_errors
def approve(
    ref: RefArg,
    env: Annotated[str, typer.Option("--env", help="Environment the approval is for.")],
    key: SignKeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
    purpose: Annotated[
        str, typer.Option("--purpose", help="promote, rollback or override (a freeze window).")
    ] = "promote",
    expires_in: Annotated[
        int | None,
        typer.Option(
            "--expires-in",
            min=1,
            max=10**9,  # ~31 years: past any config's approvalMaxAge, within a timedelta
            help="Seconds until the approval lapses (at most the environment's approvalMaxAge).",
        ),
    ] = None,
    registry: RepoOpt = Path("."),
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Record your signed approval of NAME@VERSION for one environment (with an expiry).

    Sign with a registry key (--key), a private-PKI certificate (--key --certificate
    [--chain]) or Sigstore keyless (--keyless [--trust-config] [--identity-token]), exactly
    like `policy sign`; the config's approvers name the key or the certificate identity.
    """
    from nexusctl.registry.ops import approve as run
    from nexusctl.registry.ops import parse_ref

    if purpose not in ("promote", "rollback", "override"):
        raise UsageError("--purpose must be promote, rollback or override")
    name, version = parse_ref(ref)
    lifetime = dt.timedelta(seconds=expires_in) if expires_in is not None else None
    actor = _actor(key, certificate, chain, keyless, trust_config, identity_token)
    result = run(
        registry, name, version, env, actor, _clock(), purpose=purpose, expires_in=lifetime
    )
    _event(result, output_format)


@registry_app.command("promote")
@handle_errors
def promote(
    ref: RefArg,
    to: Annotated[str, typer.Option("--to", help="Target environment.")],
    key: SignKeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
    tuf_key: TufKeyOpt = None,
    attestation: Annotated[
        Path | None,
        typer.Option("--attestation", help="Signed routing-diff attestation (simulate --attest)."),
    ] = None,
    override: Annotated[
        bool, typer.Option("--override", help="Emergency: promote inside a freeze window.")
    ] = False,
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate",
            help="Run the simulation now (baseline: the bundle live in the target; candidate: "
            "this one), sign its routing-diff attestation with --key and use it as evidence.",
        ),
    ] = False,
    traffic: Annotated[
        Path | None,
        typer.Option(
            "--traffic",
            help="With --simulate: a traffic sample the environment registers (default: the "
            "first registered sample kept in the registry).",
        ),
    ] = None,
    gates: Annotated[
        Path | None,
        typer.Option("--gates", help="With --simulate: the environment's configured gates file."),
    ] = None,
    registry: RepoOpt = Path("."),
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Promote NAME@VERSION into an environment if every gate passes (exit 6 if one fails).

    Sign as a releaser's key (--key), or as a releaser's certificate identity (--key with
    --certificate/--chain, or --keyless) with --tuf-key for the TUF metadata.
    """
    from nexusctl.registry.ops import Simulate, parse_ref
    from nexusctl.registry.ops import promote as run

    if (traffic or gates) and not simulate:
        raise UsageError("--traffic and --gates go with --simulate")
    name, version = parse_ref(ref)
    plan = Simulate(traffic, gates) if simulate else None
    actor = _actor(key, certificate, chain, keyless, trust_config, identity_token)
    result = run(
        registry, name, version, to, actor, _clock(),
        attestation=attestation, override=override, simulate=plan, tuf_key=tuf_key,
    )  # fmt: skip
    _event(result, output_format)


@registry_app.command("rollback")
@handle_errors
def rollback(
    name: Annotated[str, typer.Argument(help="Policy name.")],
    env: Annotated[str, typer.Option("--env", help="Environment to roll back.")],
    to: Annotated[int, typer.Option("--to", help="A version that was live there before.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")],
    key: SignKeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    identity_token: TokenOpt = None,
    tuf_key: TufKeyOpt = None,
    registry: RepoOpt = Path("."),
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Make an earlier version live again: a new forward record, never a rewrite (signing
    options as for `promote`)."""
    from nexusctl.registry.ops import rollback as run

    actor = _actor(key, certificate, chain, keyless, trust_config, identity_token)
    _event(run(registry, name, env, to, reason, actor, _clock(), tuf_key), output_format)


@registry_app.command("status")
@handle_errors
def status(registry: RepoOpt = Path("."), output_format: FormatOpt = TextOrJson.text) -> None:
    """Show what is live in every environment."""
    from nexusctl.registry.query import status as run

    doc = run(registry)
    if output_format == "json":
        write_stdout(json.dumps(doc, indent=2))
        return
    lines = [
        f"registry {doc['registry']} (config v{doc['config_version']}, {doc['records']} records)"
    ]
    environments = doc["environments"]
    assert isinstance(environments, list)
    for env in environments:
        lines.append(f"{env['name']}:")
        for name, entry in env["live"].items():
            lines.append(f"  {name} v{entry['version']} {entry['digest']} since {entry['since']}")
        if not env["live"]:
            lines.append("  (nothing live)")
    write_stdout("\n".join(lines))


@registry_app.command("history")
@handle_errors
def history(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only this policy.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="RFC 3339 time: what was live then, and why.")
    ] = None,
    registry: RepoOpt = Path("."),
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """List the record log, or what was live at a time (who promoted it, on which evidence)."""
    from nexusctl.clock import parse_rfc3339
    from nexusctl.registry.query import history as run

    doc = run(registry, env=env, name=name, at=parse_rfc3339(at) if at else None)
    if output_format == "json":
        write_stdout(json.dumps(doc, indent=2))
        return
    write_stdout("\n".join(_history_lines(doc)))


def _history_lines(doc: dict[str, Any]) -> list[str]:
    if "live" in doc:
        lines = [f"live at {doc['at']}:"]
        for item in doc["live"]:
            gates = ", ".join(f"{g['name']}={g['verdict']}" for g in item["gates"])
            approvers = ", ".join(str(a) for a in item["approved_by"]) or "none"
            lines += [
                f"  {item['environment']}: {item['name']} v{item['version']} {item['digest']}",
                f"    {item['event']} by {item['promoted_by']} at {item['since']} "
                f"(record {item['record']}); approved by {approvers}",
                f"    gates: {gates}",
            ]
            for gate in item["gates"]:
                if gate["name"] == "forward" and gate["evidence"]:
                    lines.append(f"    replaced: {gate['evidence']}")
                elif gate["name"] == "simulation" and gate["evidence"]:
                    hex_digest = gate["evidence"].removeprefix("sha256:")
                    lines.append(f"    simulation attestation: evidence/{hex_digest}.json")
            if item.get("reason"):
                lines.append(f"    reason: {item['reason']}")
        return lines if doc["live"] else [*lines, "  (nothing live)"]
    lines = []
    for rec in doc["records"]:
        bundle = rec.get("bundle")
        what = f" {bundle['name']} v{bundle['version']}" if bundle else ""
        env = f" {rec['environment']}" if rec.get("environment") else ""
        lines.append(
            f"{rec['sequence']:>6} {rec['time']} {rec['event']}{what}{env} by {rec['actor']}"
        )
    return lines


@registry_app.command("diff")
@handle_errors
def diff(
    env_a: Annotated[str, typer.Argument(help="One environment, e.g. staging.")],
    env_b: Annotated[str, typer.Argument(help="The other environment, e.g. prod.")],
    registry: RepoOpt = Path("."),
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Show what differs between two environments' live policies, route by route.

    For each policy: its version and bundle digest on each side; where they differ, the
    routes (and their order), default route, guardrails, tenants, residency classes, fallback
    chains, escalation, limits and metadata that changed, field by field. Exit 0 either way.
    """
    from nexusctl.registry.diff import diff_environments

    result = diff_environments(registry, env_a, env_b)
    if output_format == "json":
        doc = {"identical": result.identical, **result.model_dump(mode="json")}
        write_stdout(json.dumps(doc, indent=2))
        return
    stdout_console().print("\n".join(_diff_lines(result)), highlight=False, markup=False)


def _diff_lines(result: EnvironmentDiff) -> list[str]:
    a, b = result.env_a, result.env_b
    width = max(len(a), len(b)) + 1
    lines = [f"{a} -> {b}: " + ("identical" if result.identical else "differs")]
    if not result.policies:
        lines.append("  (nothing live in either)")
    for policy in result.policies:
        status = {"only-in-a": f"only in {a}", "only-in-b": f"only in {b}"}
        lines.append(f"{policy.name}: {status.get(policy.status, policy.status)}")
        for env, side in ((a, policy.a), (b, policy.b)):
            live = f"v{side.version} {side.digest}" if side else "(not live)"
            lines.append(f"  {env + ':':<{width}} {live}")
        for change in policy.changes:
            item = change.item if change.item != change.section else None
            where = " ".join(p for p in (change.section, item, change.field) if p)
            if change.kind == "changed":
                lines.append(f"  ~ {where}")
                lines.append(f"      {a + ':':<{width}} {_compact(change.before)}")
                lines.append(f"      {b + ':':<{width}} {_compact(change.after)}")
            else:
                removed = change.kind == "removed"
                only, value = (a, change.before) if removed else (b, change.after)
                lines.append(f"  {'-' if removed else '+'} {where}: only in {only}")
                lines.append(f"      {_compact(value)}")
    return lines


def _compact(value: object) -> str:
    return "(unset)" if value is None else json.dumps(value, separators=(", ", ": "))


@registry_app.command("verify")
@handle_errors
def verify(
    registry: RepoOpt = Path("."),
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="JSON file keeping the last verified head; a rewritten history is refused.",
        ),
    ] = None,
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Verify the whole history: signatures, chain, gates, live sets, bundles, TUF (exit 5)."""
    from nexusctl.errors import VerificationError
    from nexusctl.files import write_atomic
    from nexusctl.registry.query import read_known_state
    from nexusctl.registry.verify import verify_registry

    known = read_known_state(state) if state is not None else None
    try:
        doc = verify_registry(registry, known)
    except VerificationError as exc:
        if output_format == "json":
            write_stdout(json.dumps({"ok": False, "reason": exc.reason, "message": str(exc)}))
        raise
    if state is not None:
        kept = json.dumps({"records": doc["records"], "head": doc["head"]}) + "\n"
        write_atomic(state, kept.encode(), what="the verified state")
    if output_format == "json":
        write_stdout(json.dumps(doc, indent=2))
        return
    write_stdout(f"OK {doc['records']} records verified; head {doc['head']}")
    _warn_expiring_roots(doc["roots"])
    if not doc["trust_files_pinned"]:
        stderr_console().print(
            "warning: the admins' signatures cover the trust policy file but not the key files "
            "it names (a registry initialised before they were pinned); pin them with "
            "`registry config propose CONFIG --trust-policy TRUST`",
            markup=False,
            highlight=False,
        )


def _warn_expiring_roots(roots: dict[str, dict[str, Any]]) -> None:
    """Name each TUF root that expires soon (gateways refuse it then)."""
    from nexusctl.registry.tufroots import expiring_roots

    for env in expiring_roots(roots, _clock().now()):
        root = roots[env]
        stderr_console().print(
            f"warning: {env}'s TUF root v{root['version']} expires {root['expires']}; "
            "renew it: `registry config propose CONFIG --renew-roots`",
            markup=False,
            highlight=False,
        )


@registry_app.command("pull")
@handle_errors
def pull(registry: RepoOpt = Path(".")) -> None:
    """Fast-forward this clone from its remote (after a conflict, before retrying)."""
    from nexusctl.registry.ops import pull as pull_registry

    head = pull_registry(registry)
    write_stdout(f"at {head}")
