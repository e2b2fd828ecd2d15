"""SLSA provenance v1 (slsa.dev/spec/v1.0/provenance) as typed models (camelCase JSON names)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from nexusctl.document import Model
from nexusctl.statements.intoto import ResourceDescriptor

SLSA_PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v1"


class BuildDefinition(Model):
    """What was built and from which inputs."""

    build_type: str = Field(description="URI naming the template of the build.")
    external_parameters: dict[str, Any] = Field(
        description="Inputs the build's caller controlled (buildType-specific)."
    )
    internal_parameters: dict[str, Any] | None = None
    resolved_dependencies: list[ResourceDescriptor] = Field(default_factory=list)


class Builder(Model):
    """The build platform."""

    id: str = Field(description="URI of the builder: the identity the verifier trusts.")
    version: dict[str, str] | None = None
    builder_dependencies: list[ResourceDescriptor] | None = None


class BuildMetadata(Model):
    """When and under which invocation the build ran (all optional)."""

    invocation_id: str | None = None
    started_on: str | None = None
    finished_on: str | None = None


class RunDetails(Model):
    """Who ran the build."""

    builder: Builder
    metadata: BuildMetadata | None = None
    byproducts: list[ResourceDescriptor] | None = None


class SlsaProvenance(Model):
    """The SLSA provenance v1 predicate."""

    PREDICATE_TYPE: ClassVar[str] = SLSA_PROVENANCE_PREDICATE

    build_definition: BuildDefinition
    run_details: RunDetails
