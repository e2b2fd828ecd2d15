"""The attributes of one LLM request that a RoutingPolicy decides on (never the prompt text).

Types are strict: a count is a JSON integer (``"600"`` and ``true`` are refused, not coerced),
a score a JSON number. Token counts are capped at ``MAX_TOKENS``, far above any context window
and far below any overflow, the same cap recorded traffic obeys. The JSON Schema is exported as
``schemas/RoutingRequest.json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails

from nexusctl.document import Identifier, Model, SourceMap
from nexusctl.document.json_marks import json_source_map
from nexusctl.document.strict_json import JsonLimitError, loads_strict
from nexusctl.errors import InputError
from nexusctl.policy.vocabulary import MAX_TOKENS, Capability, DataClass, RiskClass

#: Largest request document ``parse_request`` reads.
MAX_REQUEST_BYTES = 1024 * 1024

#: A token count: a strict integer in [0, MAX_TOKENS].
TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=True)]
#: A score in [0, 1]: a JSON number (an integer is accepted as 0 or 1), never a string.
Score = Annotated[float, Field(ge=0, le=1, strict=True)]


class RoutingRequest(Model):
    """One request, as the router sees it: who, what, how big, how hard; no prompt text.

    Required: tenant, app, residencyClass, inputTokens, outputTokens. Every other field has
    the default shown. Names are camelCase (snake_case is accepted too); counts are JSON
    integers, scores JSON numbers: "600" or true for a count is refused, never coerced.
    """

    request_id: str = Field(
        default="-",
        max_length=200,
        strict=True,
        description="The caller's id for the request, echoed in the decision.",
    )
    tenant: Identifier = Field(description="Required. The tenant the request is billed to.")
    app: Identifier = Field(description="Required. The application sending the request.")
    use_case: Identifier = Field(default="general", description="The use case, as routes match it.")
    data_class: DataClass = Field(
        default="internal", description="Sensitivity of the data the request carries."
    )
    residency_class: Identifier = Field(
        description="Required. The residency class (a key of the policy's residency map) that "
        "decides which regions may serve it."
    )
    risk_class: RiskClass = Field(default="low", description="Risk of the decision it supports.")
    input_tokens: TokenCount = Field(description="Required. Input (prompt) tokens.")
    cached_input_tokens: TokenCount = Field(
        default=0, description="Of the input tokens, those served from the provider's cache."
    )
    output_tokens: TokenCount = Field(
        description="Required. Expected (or, in replay, observed) output tokens."
    )
    reasoning_tokens: TokenCount = Field(
        default=0, description="Expected reasoning tokens (billed as output unless priced)."
    )
    capabilities: list[Capability] = Field(
        default_factory=list, description="Capabilities the deployment must offer."
    )
    complexity: Score = Field(
        default=0.0, description="Complexity score in [0, 1]; thresholds raise the tier floor."
    )
    confidence: Score | None = Field(
        default=None, description="Caller's confidence in the complexity score, in [0, 1]."
    )


def parse_request(raw: bytes | str, source: str = "request") -> RoutingRequest:
    """Parse a RoutingRequest from JSON (camelCase or snake_case field names), strictly.

    Counts must be JSON integers and scores JSON numbers (``"600"`` and ``true`` are
    refused), a key may appear once, and every missing or invalid field is reported in the
    one error, each named with its line and column in the request text.

    Raises:
        InputError: larger than 1 MiB, not JSON (or nested too deep, an integer too long, a
            duplicate key), not an object, or fields that fail validation (all listed).
    """
    data_bytes = raw.encode("utf-8", errors="replace") if isinstance(raw, str) else raw
    if len(data_bytes) > MAX_REQUEST_BYTES:
        raise InputError(f"{source}: larger than the 1 MiB limit for one request")
    try:
        data = loads_strict(data_bytes)
    except JsonLimitError as exc:
        where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
        raise InputError(f"{source}: {exc}{where}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object with the request's attributes")
    return request_from_mapping(data, source, lambda: _marks(data_bytes, source))


def request_from_mapping(data: dict[str, Any], source: str, marks: Any = None) -> RoutingRequest:
    """Validate ``data`` as a RoutingRequest, listing every problem in one error.

    ``marks`` is an optional callable returning the SourceMap that locates each field (called
    only when there is an error to locate).

    Raises:
        InputError: every missing, unknown or invalid field, in document order.
    """
    try:
        return RoutingRequest.model_validate(data)
    except ValidationError as exc:
        located: SourceMap | None = marks() if marks is not None else None
        problems = [_problem(err, located) for err in exc.errors()]
        raise InputError(
            f"{source}: {len(problems)} invalid field(s): " + "; ".join(problems)
        ) from None


def _marks(data: bytes, source: str) -> SourceMap:
    return json_source_map(data.decode("utf-8", errors="replace"), source)


def _problem(err: ErrorDetails, located: SourceMap | None) -> str:
    """One field's problem, named by its path (``inputTokens``, ``capabilities.0``)."""
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or "request"
    if err["type"] == "missing":
        text = f"missing required field '{field}'"
        loc = loc[:-1]  # located at the object that lacks it
    elif err["type"] == "extra_forbidden":
        text = f"unknown field '{field}'"
    else:
        text = f"field '{field}': {err['msg']}"
    if located is None:
        return text
    where = located.locate(_as_written(loc, located))
    return f"{text} (line {where.line}, column {where.column})"


def _as_written(loc: tuple[str | int, ...], located: SourceMap) -> tuple[str | int, ...]:
    """``loc`` with its field name as the document spells it (camelCase or snake_case)."""
    if not loc or loc in located.marks or not isinstance(loc[0], str):
        return loc
    for name, info in RoutingRequest.model_fields.items():
        if loc[0] in (name, info.alias):
            for spelling in (name, info.alias):
                if spelling is not None and (spelling, *loc[1:])[:1] in located.marks:
                    return (spelling, *loc[1:])
    return loc
