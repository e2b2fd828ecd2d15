"""`registry config ...`: propose, sign and apply a config change (thin adapters)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nexusctl.cli._apps import registry_config_app
from nexusctl.cli._common import TextOrJson, handle_errors, write_stdout
from nexusctl.cli.registry_cmds import FormatOpt, KeyOpt, RepoOpt, _clock, _event


@registry_config_app.command("propose")
@handle_errors
def config_propose(
    config: Annotated[Path, typer.Argument(help="The next RegistryConfig version.")],
    key: KeyOpt,
    registry: RepoOpt = Path("."),
    trust_policy: Annotated[
        Path | None,
        typer.Option(
            "--trust-policy",
            help="A new trust policy the change brings (with the key files it names), stored "
            "at the path the new config's trustPolicy names, which must be new.",
        ),
    ] = None,
    renew_roots: Annotated[
        bool,
        typer.Option(
            "--renew-roots",
            help="Re-issue every environment's TUF root with a new expiry (365 days from now), "
            "keys unchanged; the admins sign them with `config sign` as for a key change.",
        ),
    ] = False,
) -> None:
    """Propose the next config version, signed by you (a current admin).

    When it changes the admins, their threshold or the releasers, each environment's next
    TUF root is proposed with it: the admins of both versions sign it with `config sign`.
    """
    from nexusctl.registry.configchange import propose

    proposal = propose(registry, config, key, _clock(), trust_policy, renew_roots)
    lines = [f"proposed config v{proposal.version}"]
    if proposal.trust_digest is not None:
        lines.append(f"  with trust policy {proposal.trust_digest}")
    lines += _root_lines(proposal.roots)
    write_stdout("\n".join(lines))


@registry_config_app.command("sign")
@handle_errors
def config_sign(key: KeyOpt, registry: RepoOpt = Path(".")) -> None:
    """Add your signature to the proposed config (current admins) and to its TUF roots
    (admins of the current or the proposed version)."""
    from nexusctl.registry.configchange import sign_proposal

    signed = sign_proposal(registry, key, _clock())
    write_stdout("\n".join(["signed by " + ", ".join(signed.config), *_root_lines(signed.roots)]))


def _root_lines(roots: list[dict[str, Any]]) -> list[str]:
    lines = []
    for root in roots:
        previous = root["previous_root"]
        by_previous = (
            f"{previous[0]}/{previous[1]} of root v{root['version'] - 1}'s keys, "
            if previous
            else ""
        )
        own = root["own"]
        lines.append(
            f"  TUF root {root['environment']} v{root['version']}: signed by {by_previous}"
            f"{own[0]}/{own[1]} of its own"
        )
    return lines


@registry_config_app.command("apply")
@handle_errors
def config_apply(
    key: KeyOpt,
    registry: RepoOpt = Path("."),
    releaser_key: Annotated[
        Path | None,
        typer.Option(
            "--releaser-key",
            help="A releaser of the new config: signs again the TUF metadata of every "
            "environment whose root rotates (needed when the change removes its signer).",
        ),
    ] = None,
    output_format: FormatOpt = TextOrJson.text,
) -> None:
    """Apply the proposed config once a threshold of the current admins signed it (and its TUF
    roots have the thresholds of the current and the new root)."""
    from nexusctl.registry.configchange import apply

    _event(apply(registry, key, _clock(), releaser_key), output_format)
