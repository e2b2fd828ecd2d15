"""Explain a decision: parse a request document and lay out the decision and its reasons.

Used by ``nexusctl policy explain``; pure (no printing), so the JSON document is testable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from nexusctl.document.strict_json import JsonLimitError, loads_strict
from nexusctl.errors import InputError
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.policy.request import RoutingRequest
from nexusctl.router import reasons
from nexusctl.router.decision import Decision

MAX_REQUEST_BYTES = 1024 * 1024


def parse_request(raw: bytes | str, source: str = "request") -> RoutingRequest:
    """Parse a RoutingRequest from JSON (camelCase or snake_case field names), strictly.

    Counts must be JSON integers and scores JSON numbers (``"600"`` and ``true`` are
    refused), a key may appear once, and every missing or invalid field is reported in the
    one error, each named.

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
    try:
        return RoutingRequest.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
        raise InputError(
            f"{source}: {len(problems)} invalid field(s): " + "; ".join(problems)
        ) from None


def _problem(err: ErrorDetails) -> str:
    """One field's problem, named by its path (``inputTokens``, ``capabilities.0``)."""
    field = ".".join(str(p) for p in err["loc"]) or "request"
    if err["type"] == "missing":
        return f"missing required field '{field}'"
    if err["type"] == "extra_forbidden":
        return f"unknown field '{field}'"
    return f"field '{field}': {err['msg']}"


def usd(pico_usd: int | None) -> str | None:
    """Format exact pico-USD as a decimal USD string (no float rounding), e.g. '0.00891'."""
    if pico_usd is None:
        return None
    value = Decimal(pico_usd).scaleb(-12)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def explain_document(loaded: LoadedPolicy, request: RoutingRequest, decision: Decision) -> Any:
    """Return the one JSON document ``policy explain --format json`` prints."""
    meta = loaded.policy.metadata
    body = decision.model_dump(mode="json")
    body["predicted_cost_usd"] = usd(decision.predicted_cost_pusd)
    body["max_cost_usd"] = usd(decision.max_cost_pusd)
    for candidate in body["candidates"]:
        candidate["predicted_cost_usd"] = usd(candidate["predicted_cost_pusd"])
        candidate["explanation"] = (
            reasons.describe(candidate["reason"]) if candidate["reason"] else None
        )
    codes = {c.reason for c in decision.candidates if c.reason} | (
        {decision.reason} if decision.reason else set()
    )
    return {
        "policy": {"name": meta.name, "version": meta.version, "path": str(loaded.path)},
        "request": request.model_dump(mode="json", by_alias=True),
        "load": decision.load,
        "decision": body,
        "reason_codes": {code: reasons.describe(code) for code in sorted(codes)},
    }
