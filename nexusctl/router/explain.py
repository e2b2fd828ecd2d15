"""Explain a decision: parse a request document and lay out the decision and its reasons.

Used by ``nexusctl policy explain``; pure (no printing), so the JSON document is testable.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from nexusctl.errors import InputError
from nexusctl.policy.loader import LoadedPolicy
from nexusctl.policy.request import RoutingRequest
from nexusctl.router import reasons
from nexusctl.router.decision import Decision

MAX_REQUEST_BYTES = 1024 * 1024


def parse_request(text: str, source: str = "request") -> RoutingRequest:
    """Parse a RoutingRequest from JSON text (camelCase or snake_case field names).

    Raises:
        InputError: not JSON, not an object, or a field that fails validation (named).
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_REQUEST_BYTES:
        raise InputError(f"{source}: larger than the 1 MiB limit for one request")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object with the request's attributes")
    try:
        return RoutingRequest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "request"
        if err["type"] == "missing":
            message = f"{source}: missing required field '{field}'"
        elif err["type"] == "extra_forbidden":
            message = f"{source}: unknown field '{field}'"
        else:
            message = f"{source}: field '{field}': {err['msg']}"
        more = len(exc.errors()) - 1
        hint = f"{more} more error(s) after this one" if more else None
        raise InputError(message, hint=hint) from None


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
