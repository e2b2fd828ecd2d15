"""The command groups. Command modules register on these; ``app.py`` imports them all."""

from __future__ import annotations

import typer

_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings=_SETTINGS,
    )


app = typer.Typer(
    name="nexusctl",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings=_SETTINGS,
)
policy_app = _group("Lint, test, show, explain, bundle, sign, attest and verify routing policies.")
catalog_app = _group("Maintain model catalogs (prices from public price tables).")
schema_app = _group("Export the JSON Schemas generated from nexusctl's models.")
traffic_app = _group("Import, enrich, synthesise and inspect recorded LLM traffic.")
key_app = _group("Generate signing keys for offline (air-gapped) signing.")
registry_app = _group(
    "Promote signed bundles dev -> staging -> prod in a git-backed registry; resolve with TUF."
)
registry_config_app = _group("Change the registry config: a threshold of the previous admins.")
ci_app = _group("CI glue: the sticky pull/merge-request comment with the simulation diff.")
evidence_app = _group(
    "Keep, verify, prove, query and report the tamper-evident record of routing decisions."
)

app.add_typer(policy_app, name="policy")
app.add_typer(catalog_app, name="catalog")
app.add_typer(schema_app, name="schema")
app.add_typer(traffic_app, name="traffic")
app.add_typer(key_app, name="key")
app.add_typer(registry_app, name="registry")
registry_app.add_typer(registry_config_app, name="config")
app.add_typer(ci_app, name="ci")
app.add_typer(evidence_app, name="evidence")
