"""DecisionRecord v1: one routing decision as evidence, and the bytes its Merkle leaf hashes.

Names follow the OpenTelemetry GenAI semantic conventions where one exists (``gen_ai.*``) and
use ``nexus.*`` for the rest (tenant, route, policy, cost...). The dotted names are the field
aliases: they are the keys of the canonical JSON, the Parquet column names, and what a record
is validated from; the snake_case field names are the columns of the DuckDB views.

What a record can never hold, by construction:

* prompt or completion text: every string is a token (no whitespace, at most 200 characters),
  and fields that carry content (``gen_ai.input.messages``, ``prompt``...) are refused by name;
* secrets: a value shaped like an API key, a bearer token, a JWT or a PEM block is refused;
* a user identity: only ``nexus.user.hash``, an ``hmac-sha256:`` keyed hash, is accepted.

Money is ``nexus.cost.pusd``: an exact integer of pico-USD (1e-12 USD), the unit of
``nexusctl.replay``'s decisions. Time is ``nexus.request.time_unix_us``: integer microseconds
since the Unix epoch, UTC. Every integer is below 2**53, so RFC 8785 represents it exactly.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from nexusctl.document import FrozenModel

if TYPE_CHECKING:
    import pyarrow as pa

RECORD_VERSION = 1
#: RFC 8785 represents integers exactly only up to 2**53 - 1 (I-JSON, RFC 7493 §2.2).
MAX_INT = 2**53 - 1

VALUE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,199}$"
#: Shapes of credentials that must never enter the evidence (checked on every string).
#: (An RE2-compatible pattern: the store scans whole Arrow columns with it.)
LEAK_PATTERN = (
    r"\bsk-[A-Za-z0-9_-]{20,}|\bAKIA[0-9A-Z]{16}|\bASIA[0-9A-Z]{16}|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bxox[abpr]-|\beyJ[A-Za-z0-9_-]{8,}\.eyJ|-----BEGIN|AIza[0-9A-Za-z_-]{30,}|[Bb]earer"
)
#: Field names that carry raw content or credentials: refused with a message saying why.
_CONTENT_FIELD = re.compile(
    r"prompt|completion|messages|content|instructions|input\.text|output\.text|query\.text"
    r"|password|secret|api[_.-]?key|authorization|credential|user\.(id|email|name)$",
    re.IGNORECASE,
)


#: Every string is a token: no whitespace, so no free text fits (checked in pydantic's core).
Token = Annotated[
    str,
    StringConstraints(pattern=VALUE_PATTERN),
    Field(description="A token: letters, digits and . _ : / @ + = -, no spaces, 1-200 chars."),
]
#: Integers are strict: "5" is refused, so what a producer sent is exactly what is hashed.
Count = Annotated[int, Field(ge=0, le=MAX_INT, strict=True)]
Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]

Kind = Literal["real", "counterfactual"]
Outcome = Literal["routed", "escalated", "refused"]


class DecisionRecord(FrozenModel):
    """One routing decision as evidence (DecisionRecord v1); keys are the dotted aliases."""

    record_version: Literal[1] = Field(alias="nexus.record.version")
    kind: Kind = Field(
        alias="nexus.record.kind",
        description="'real' for a gateway's decision, 'counterfactual' for a simulated one.",
    )
    source: Token = Field(
        alias="nexus.record.source",
        description="Where the record came from: gateway, canonical, simulate, litellm, otel.",
    )
    request_id: Token = Field(alias="nexus.request.id", description="The request's unique id.")
    time_unix_us: Count = Field(
        alias="nexus.request.time_unix_us",
        description="When the request arrived: integer microseconds since the Unix epoch, UTC.",
    )
    tenant: Token = Field(alias="nexus.tenant.id")
    app: Token | None = Field(default=None, alias="nexus.app.id")
    use_case: Token | None = Field(default=None, alias="nexus.use_case")
    data_class: Token | None = Field(default=None, alias="nexus.data.class")
    residency_class: Token | None = Field(default=None, alias="nexus.residency.class")
    user_hash: str | None = Field(
        default=None,
        alias="nexus.user.hash",
        pattern=r"^hmac-sha256:[0-9a-f]{64}$",
        description="The end user only as a keyed hash (HMAC-SHA-256 under the operator's key).",
    )
    environment: Token | None = Field(default=None, alias="nexus.environment")
    policy_name: Token | None = Field(default=None, alias="nexus.policy.name")
    policy_version: Count | None = Field(default=None, alias="nexus.policy.version")
    policy_digest: Digest | None = Field(
        default=None,
        alias="nexus.policy.bundle_digest",
        description="SHA-256 of the signed policy bundle.",
    )
    price_table_digest: Digest | None = Field(default=None, alias="nexus.price_table.digest")
    route_id: Token | None = Field(default=None, alias="nexus.route.id")
    outcome: Outcome = Field(alias="nexus.decision.outcome")
    tier: Token | None = Field(default=None, alias="nexus.route.tier")
    reasons: tuple[Token, ...] = Field(
        default=(),
        alias="nexus.decision.reasons",
        max_length=64,
        description="Reason codes, in order.",
    )
    deployment_id: Token | None = Field(default=None, alias="nexus.deployment.id")
    region: Token | None = Field(default=None, alias="nexus.deployment.region")
    operation: Token | None = Field(default=None, alias="gen_ai.operation.name")
    provider: Token | None = Field(default=None, alias="gen_ai.provider.name")
    request_model: Token | None = Field(default=None, alias="gen_ai.request.model")
    response_model: Token | None = Field(default=None, alias="gen_ai.response.model")
    input_tokens: Count | None = Field(default=None, alias="gen_ai.usage.input_tokens")
    output_tokens: Count | None = Field(default=None, alias="gen_ai.usage.output_tokens")
    cache_read_input_tokens: Count | None = Field(
        default=None, alias="gen_ai.usage.cache_read.input_tokens"
    )
    reasoning_output_tokens: Count | None = Field(
        default=None, alias="gen_ai.usage.reasoning.output_tokens"
    )
    decode_strategy: Token | None = Field(default=None, alias="nexus.decode.strategy")
    draft_tokens: Count | None = Field(
        default=None, alias="nexus.decode.gamma", description="Speculative draft length; 0 = off."
    )
    cost_pusd: Count | None = Field(
        default=None,
        alias="nexus.cost.pusd",
        description="Cost: exact integer pico-USD (1e-12 USD).",
    )
    latency_us: Count | None = Field(
        default=None, alias="nexus.latency_us", description="Microseconds."
    )
    status: Token = Field(alias="nexus.status", description="ok, error, escalated or refused.")
    escalation_rule: Token | None = Field(default=None, alias="nexus.escalation.rule")
    escalation_target: Token | None = Field(default=None, alias="nexus.escalation.target")

    @model_validator(mode="before")
    @classmethod
    def _refuse_content_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.keys() <= ALIASES_SET:
            for key in data:
                if key not in ALIASES_SET and _CONTENT_FIELD.search(str(key)):
                    raise ValueError(
                        f"field {key!r} carries raw content or a credential; the evidence "
                        "plane never stores prompt/completion text or secrets"
                    )
        return data


#: (view column, canonical key) for every field, in declaration order.
COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (name, info.alias or name) for name, info in DecisionRecord.model_fields.items()
)
ALIASES: tuple[str, ...] = tuple(alias for _, alias in COLUMNS)
ALIASES_SET = frozenset(ALIASES)


def record_bytes(row: dict[str, Any]) -> bytes:
    """Return the RFC 8785 bytes of a record given as ``{alias: value}`` (all keys present).

    For this shape (ASCII keys, strings, integers below 2**53, booleans, null, lists of
    strings) ``json.dumps`` with sorted keys, no spaces and no ASCII escaping produces exactly
    the RFC 8785 bytes, at a fraction of the cost; ``test_evidence_record`` holds the two
    together. Floats never reach here: the schema has none.
    """
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def arrow_schema() -> pa.Schema:
    """Return the Parquet/Arrow schema of a segment: one column per alias, in field order.

    Declared once, as the evidence-records table (``nexusctl.evidence.table.RECORDS``).
    """
    from nexusctl.evidence.table import RECORDS

    schema: pa.Schema = RECORDS.arrow_schema()
    return schema
