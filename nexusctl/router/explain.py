"""Explain a decision: parse a request document and lay out the decision and its reasons.

Used by ``nexusctl policy explain``; pure (no printing), so the JSON document is testable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nexusctl.policy.loader import LoadedPolicy
from nexusctl.policy.request import MAX_REQUEST_BYTES, RoutingRequest, parse_request
from nexusctl.router import reasons
from nexusctl.router.decision import Decision

__all__ = ["MAX_REQUEST_BYTES", "explain_document", "parse_request", "usd"]


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
