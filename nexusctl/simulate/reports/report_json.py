"""Render a SimulationResult as its one JSON document (the model's own serialisation)."""

from __future__ import annotations

from nexusctl.simulate.result import SimulationResult


def render_json(result: SimulationResult) -> str:
    """Return the result as JSON: exactly one document, money as integers, keys in model order."""
    return result.model_dump_json(indent=2) + "\n"
