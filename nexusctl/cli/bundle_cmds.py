"""`policy bundle / sign / attest / verify` and `key generate`: thin adapters over the core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import key_app, policy_app
from nexusctl.cli._common import TextOrJson, handle_errors, plain, stdout_console, write_stdout
from nexusctl.cli._repo_root import RootOpt
from nexusctl.cli._signing import (
    CertOpt,
    ChainOpt,
    KeylessOpt,
    KeyOpt,
    StagingOpt,
    TokenOpt,
    TrustConfigOpt,
    make_signer,
    read_passphrase,
)
from nexusctl.errors import UsageError, VerificationError

BundleArg = Annotated[Path, typer.Argument(help="Bundle folder made by `policy bundle`.")]
FormatOpt = Annotated[TextOrJson, typer.Option("--format", help="text or json.")]


@policy_app.command("bundle")
@handle_errors
def bundle(
    policy: Annotated[Path, typer.Argument(help="The RoutingPolicy YAML to bundle.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle folder to create.")],
    include: Annotated[
        list[Path] | None,
        typer.Option(
            "--include", help="Extra file to carry (inside the repository root); repeatable."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a non-empty output folder.")
    ] = False,
    output_format: FormatOpt = TextOrJson.text,
    root: RootOpt = None,
) -> None:
    """Bundle a policy with its catalog, price table and extras, plus a SHA-256 manifest.

    The same inputs give a byte-identical folder; the bundle digest is the SHA-256 of the
    canonical manifest.json. A policy whose references cross folders inside a repository
    root is laid out from the folder holding them all, with its own .nexusctl-root marker,
    so it loads from the bundle as it did from its source.
    """
    from nexusctl.bundle import build_bundle

    built = build_bundle(policy, output, include or [], force=force, root=root)
    if output_format == "json":
        files = [f.path for f in built.manifest.files]
        doc = {"bundle": str(output), "name": built.manifest.name, "digest": built.digest}
        write_stdout(json.dumps({**doc, "files": files}, indent=2))
        return
    stdout_console().print(
        f"bundled {built.manifest.name} ({len(built.manifest.files)} files) -> {output}\n"
        f"digest {built.digest}",
        highlight=False,
    )


@key_app.command("generate")
@handle_errors
def generate(
    out: Annotated[Path, typer.Option("--out", help="Private key file to create (mode 0600).")],
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Encrypt the private key with a passphrase: $NEXUSCTL_KEY_PASSWORD, or asked "
            "twice on a terminal.",
        ),
    ] = False,
) -> None:
    """Generate an ECDSA P-256 key pair: KEY.pem (PKCS#8, 0600) and KEY.pub.

    With --encrypt the private key is PKCS#8 ENCRYPTED PRIVATE KEY PEM; every command that
    takes --key then reads its passphrase from $NEXUSCTL_KEY_PASSWORD or asks on a terminal.
    Never overwrites a file; the private key and the passphrase are never printed.
    """
    from nexusctl.signing.keys import generate_key_pair

    passphrase = read_passphrase(out, confirm=True) if encrypt else None
    public = generate_key_pair(out, passphrase)
    kind = "encrypted, mode 0600" if encrypt else "mode 0600"
    stdout_console().print(f"private key {out} ({kind})\npublic key  {public}", highlight=False)


@policy_app.command("sign")
@handle_errors
def sign(
    bundle: BundleArg,
    key: KeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    staging: StagingOpt = False,
    identity_token: TokenOpt = None,
) -> None:
    """Sign a bundle: writes BUNDLE/signature.sigstore.json (Sigstore bundle v0.3, DSSE).

    The statement follows OpenSSF model-signing's layout, so `model_signing verify` accepts it.
    """
    from nexusctl.signing import sign_bundle

    signer = make_signer(key, certificate, chain, keyless, trust_config, identity_token, staging)
    target = sign_bundle(bundle, signer)
    stdout_console().print(f"signed {bundle} -> {target}", highlight=False)


@policy_app.command("attest")
@handle_errors
def attest(
    bundle: BundleArg,
    provenance: Annotated[
        bool, typer.Option("--provenance", help="Attest SLSA provenance v1 (the only kind so far).")
    ] = False,
    source: Annotated[
        Path,
        typer.Option(
            "--source",
            help="The policy file in its git checkout (checked against the bundle), "
            "or any path in that checkout.",
        ),
    ] = Path("."),
    no_source: Annotated[
        bool, typer.Option("--no-source", help="Attest without a source repository (not git).")
    ] = False,
    builder_id: Annotated[
        str | None, typer.Option("--builder-id", help="runDetails.builder.id (a URI).")
    ] = None,
    key: KeyOpt = None,
    certificate: CertOpt = None,
    chain: ChainOpt = None,
    keyless: KeylessOpt = False,
    trust_config: TrustConfigOpt = None,
    staging: StagingOpt = False,
    identity_token: TokenOpt = None,
) -> None:
    """Sign an attestation about a bundle into BUNDLE/attestations/.

    --provenance: subject = the bundle digest; source repository and commit read from git.
    """
    from nexusctl.signing import attest_provenance, read_git_source
    from nexusctl.signing.provenance import DEFAULT_BUILDER_ID

    if not provenance:
        raise UsageError("choose what to attest: --provenance")
    signer = make_signer(key, certificate, chain, keyless, trust_config, identity_token, staging)
    info = None if no_source else read_git_source(source)
    target = attest_provenance(bundle, signer, info, builder_id or DEFAULT_BUILDER_ID)
    stdout_console().print(f"attested provenance -> {target}", highlight=False)


@policy_app.command("verify")
@handle_errors
def verify(
    bundle: Annotated[Path, typer.Argument(help="Signed bundle folder.")],
    trust: Annotated[
        Path, typer.Option("--trust", help="Trust policy YAML (who may sign for what).")
    ],
    env: Annotated[
        str | None,
        typer.Option("--env", help="Environment in the trust policy (default: its only/default)."),
    ] = None,
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Verify a bundle offline: files vs manifest, signature, signer identity, attestations.

    Never opens a network connection. Exit 5 with a reason code when any check fails (the
    codes are listed in docs/signing.md); exit 3 when the trust policy, or a key, certificate
    or root it names, is malformed, missing or outside the trust policy's folder.
    """
    from nexusctl.signing import load_trust_policy, resolve_environment, verify_bundle

    policy = load_trust_policy(trust)
    environment = resolve_environment(policy, trust.parent, env)
    try:
        report = verify_bundle(bundle, environment)
    except VerificationError as exc:
        if output_format == "json":
            doc = {"ok": False, "bundle": str(bundle), "environment": environment.name}
            write_stdout(json.dumps({**doc, "reason": exc.reason, "message": str(exc)}, indent=2))
        raise VerificationError(f"[{exc.reason}] {exc}", reason=exc.reason, hint=exc.hint) from None
    if output_format == "json":
        write_stdout(json.dumps(report.to_json(), indent=2))
        return
    lines = [
        f"OK {report.name} {report.digest}",
        f"  environment {report.environment}; {report.files} files match the manifest",
        f"  signed by {report.signer}",
    ]
    lines += [f"  attestation {k}: signed by {s}" for k, s in sorted(report.attestations.items())]
    stdout_console().print("\n".join(lines), highlight=False)


@policy_app.command("inspect")
@handle_errors
def inspect(bundle: BundleArg, output_format: FormatOpt = TextOrJson.text) -> None:
    """Show a bundle's manifest, signer, provenance and routing diff, without verifying.

    Decodes the signature and attestations so nobody has to base64-decode a DSSE payload: the
    files and digests, the claimed signer (key hint, certificate subject and issuer, keyless
    identity and OIDC issuer), the provenance's repository, commit, path and dirty flag, and a
    routing diff's policies, spend and gate verdicts. Nothing is verified against a trust
    policy: run `policy verify` for that. Exit 5 when the files do not match the manifest or
    a signature file is malformed.
    """
    from nexusctl.signing.inspect import inspect_bundle, inspection_text

    report = inspect_bundle(bundle)
    if output_format == "json":
        write_stdout(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    write_stdout("\n".join(plain(line) for line in inspection_text(report).splitlines()))
