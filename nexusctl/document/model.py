"""The one pydantic model base for every document and record nexusctl reads, writes or signs.

``FrozenModel`` is the configuration every model shares (immutable, unknown fields refused);
``Model`` adds the camelCase aliases that YAML documents use. Define no other ``ConfigDict``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

API_VERSION: Literal["nexuscore.io/v1"] = "nexuscore.io/v1"

#: Identifiers: lowercase DNS-label style, so they are safe in file names, SQL and URLs.
IDENTIFIER_RE = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
Identifier = Annotated[
    str,
    StringConstraints(pattern=IDENTIFIER_RE),
    Field(description="Identifier: lowercase letters, digits, '.', '_' or '-', 1-63 chars."),
]

#: Exact money: integer micro-USD (10^-6 USD). Never a binary float.
MicroUsd = Annotated[int, Field(ge=0, description="Money in integer micro-USD (1e-6 USD).")]

#: Exact price per token, as integer micro-USD per million tokens (= USD per token x 1e12).
MicroUsdPerMtok = Annotated[
    int, Field(ge=0, description="Price in integer micro-USD per one million tokens.")
]


class FrozenModel(BaseModel):
    """Base for every nexusctl model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Model(FrozenModel):
    """Base for every nexusctl document model: ``FrozenModel`` with camelCase YAML names."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )


class Metadata(Model):
    """Who a document belongs to and which version it is."""

    name: Identifier
    version: int = Field(
        ge=1, strict=True, description="Monotonically increasing integer version, starting at 1."
    )
    owner: str | None = Field(default=None, description="Team or person accountable for it.")
    description: str | None = Field(default=None, description="What the document is for.")
    labels: dict[str, str] = Field(default_factory=dict, description="Free-form key/value labels.")
