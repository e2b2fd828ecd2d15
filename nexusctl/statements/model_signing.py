"""OpenSSF model-signing's predicate (v1.0): the bundle signature's file list.

Our bundle signature uses model-signing's layout so that its verifier accepts our bundles
(tests/e2e/signing). The field names are model-signing's own (snake_case).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from nexusctl.document import FrozenModel

MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"


class Serialization(FrozenModel):
    """How the folder was turned into resources (model-signing's ``files`` method)."""

    method: Literal["files"]
    hash_type: Literal["sha256"]
    allow_symlinks: bool
    ignore_paths: list[str] = Field(
        default_factory=list,
        description="Folder-relative paths model-signing's verifier skips when it re-hashes.",
    )


class SignedResource(FrozenModel):
    """One signed file and its digest."""

    name: str
    algorithm: Literal["sha256"]
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class ModelSigningPredicate(FrozenModel):
    """The predicate of the bundle signature: serialization and every signed file."""

    PREDICATE_TYPE: ClassVar[str] = MODEL_SIGNING_PREDICATE

    serialization: Serialization
    resources: list[SignedResource] = Field(min_length=1)
