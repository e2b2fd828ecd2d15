"""The document kernel: one model base, a strict YAML reader with a source map, validation
that locates every error at file:line:column, and confined file references.

Every document nexusctl reads (policies, catalogs, trust policies, gates, enrichment specs,
registry configs) is loaded through these names; no package reaches into another's private
modules for them.
"""

from __future__ import annotations

from nexusctl.document.model import (
    API_VERSION,
    FrozenModel,
    Identifier,
    Metadata,
    MicroUsd,
    MicroUsdPerMtok,
    Model,
)
from nexusctl.document.root import (
    ROOT_MARKER,
    RepositoryRoot,
    find_root,
    resolve_reference,
)
from nexusctl.document.source import MAX_BYTES, MAX_DEPTH, MAX_NODES, PathKey, SourceMap, read_yaml
from nexusctl.document.text import CONTROL_CHARACTERS, escape_controls, find_controls
from nexusctl.document.validate import load_document, resolve_inside, validate_document

__all__ = [
    "API_VERSION",
    "CONTROL_CHARACTERS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "ROOT_MARKER",
    "FrozenModel",
    "Identifier",
    "Metadata",
    "MicroUsd",
    "MicroUsdPerMtok",
    "Model",
    "PathKey",
    "RepositoryRoot",
    "SourceMap",
    "escape_controls",
    "find_controls",
    "find_root",
    "load_document",
    "read_yaml",
    "resolve_inside",
    "resolve_reference",
    "validate_document",
]
