"""JSON Schema export and the generated policy reference, both driven by one model registry."""

from nexusctl.schema._registry import EXPORTED_MODELS, exported_models, resolve_model
from nexusctl.schema.export import (
    Drift,
    find_drift,
    generate_schemas,
    model_schema,
    render_json,
    write_atomic,
    write_files,
)
from nexusctl.schema.reference import render_reference

__all__ = [
    "EXPORTED_MODELS",
    "Drift",
    "exported_models",
    "find_drift",
    "generate_schemas",
    "model_schema",
    "render_json",
    "render_reference",
    "resolve_model",
    "write_atomic",
    "write_files",
]
