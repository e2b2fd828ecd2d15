"""Enrichment specs: declared, seeded rules that fill the attributes a trace does not record.

A spec (YAML, ``kind: TrafficEnrichment``) gives, per attribute, a constant, a categorical
distribution, rules (``when`` earlier attributes match, draw from this; first rule wins;
``otherwise``), or for numbers a uniform, a Beta(a, b) or a monotone ramp over the input
tokens. Attributes are filled in a fixed order (``ATTRIBUTE_ORDER``) so a rule may look at
the attributes before it. Only missing values are filled: a value the source recorded is never
overwritten. Each attribute draws from its own stream ``PCG64(SeedSequence(seed, spawn_key=(k,)))``
with one draw per row, so the same spec, seed and input give byte-identical output. The draws
are applied by ``nexusctl.traffic.draw.enrich_columns`` (chunk by chunk; see there).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from nexusctl.document import Metadata, Model
from nexusctl.policy.vocabulary import Capability
from nexusctl.traffic.schema import DATA_CLASSES, RISK_CLASSES

_IDENTIFIER = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")

#: (spec attribute, canonical column, kind) in fill order; rules may only look backwards.
ATTRIBUTE_ORDER: tuple[tuple[str, str, str], ...] = (
    ("tenant", "tenant", "category"),
    ("app", "app", "category"),
    ("use_case", "use_case", "category"),
    ("data_class", "data_class", "category"),
    ("residency_class", "residency_class", "category"),
    ("risk_class", "risk_class", "category"),
    ("capabilities", "capabilities", "capabilities"),
    ("complexity", "complexity", "number"),
    ("confidence", "confidence", "number"),
    ("cached_share", "cached_input_tokens", "number"),
)
_CATEGORY_NAMES = tuple(a for a, _, kind in ATTRIBUTE_ORDER if kind == "category")


class TokenRange(Model):
    """Input-token bounds, inclusive; either may be omitted."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Condition(Model):
    """Rows this rule applies to: every given attribute must hold one of the listed values."""

    tenant: list[str] | None = None
    app: list[str] | None = None
    use_case: list[str] | None = None
    data_class: list[str] | None = None
    residency_class: list[str] | None = None
    risk_class: list[str] | None = None
    input_tokens: TokenRange | None = None

    def attributes(self) -> list[str]:
        """The attribute names this condition reads."""
        return [name for name in _CATEGORY_NAMES if getattr(self, name) is not None]


def _check_category_draw(constant: str | None, distribution: dict[str, float] | None) -> None:
    if (constant is None) == (distribution is None):
        raise ValueError("give exactly one of 'constant' or 'distribution'")
    if distribution is not None:
        if not distribution:
            raise ValueError("distribution is empty")
        if any(not (w > 0) for w in distribution.values()):
            raise ValueError("distribution weights must be > 0")


def _check_capability_draw(constant: list[Any] | None, each: dict[Any, float] | None) -> None:
    if (constant is None) == (each is None):
        raise ValueError("give exactly one of 'constant' or 'each'")
    if each is not None and any(not (0 <= p <= 1) for p in each.values()):
        raise ValueError("'each' probabilities must be in [0, 1]")


class CategoryDraw(Model):
    """Exactly one of: a constant value, or a distribution {value: weight} (weights > 0)."""

    constant: str | None = None
    distribution: dict[str, float] | None = Field(
        default=None, description="Value -> relative weight (normalised; each weight > 0)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> CategoryDraw:
        _check_category_draw(self.constant, self.distribution)
        return self

    def values(self) -> list[str]:
        """Every value this draw can produce."""
        return [self.constant] if self.constant is not None else list(self.distribution or {})


class CategoryRule(CategoryDraw):
    """A draw used for the rows that match ``when``."""

    when: Condition


class CategoryAttribute(CategoryDraw):
    """A categorical attribute: a draw, or ordered rules with an ``otherwise`` draw."""

    rules: list[CategoryRule] | None = None
    otherwise: CategoryDraw | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CategoryAttribute:
        if self.rules is None:
            _check_category_draw(self.constant, self.distribution)
            return self
        if self.constant is not None or self.distribution is not None:
            raise ValueError("with 'rules', give the fallback as 'otherwise', not at the top")
        if self.otherwise is None:
            raise ValueError("'rules' need an 'otherwise' draw for rows no rule matches")
        return self

    def draws(self) -> list[tuple[Condition | None, CategoryDraw]]:
        """(condition or None for 'always', draw) in evaluation order."""
        if self.rules is None:
            return [(None, self)]
        out: list[tuple[Condition | None, CategoryDraw]] = [(r.when, r) for r in self.rules]
        assert self.otherwise is not None
        return [*out, (None, self.otherwise)]


class CapabilityDraw(Model):
    """Exactly one of: a constant list, or ``each`` {capability: probability} (independent)."""

    constant: list[Capability] | None = None
    each: dict[Capability, float] | None = Field(
        default=None, description="Capability -> probability in [0, 1], drawn independently."
    )

    @model_validator(mode="after")
    def _one_of(self) -> CapabilityDraw:
        _check_capability_draw(self.constant, self.each)
        return self


class CapabilityRule(CapabilityDraw):
    """A capability draw used for the rows that match ``when``."""

    when: Condition


class CapabilityAttribute(CapabilityDraw):
    """Required capabilities: a draw, or ordered rules with an ``otherwise`` draw."""

    rules: list[CapabilityRule] | None = None
    otherwise: CapabilityDraw | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CapabilityAttribute:
        if self.rules is None:
            _check_capability_draw(self.constant, self.each)
            return self
        if self.constant is not None or self.each is not None:
            raise ValueError("with 'rules', give the fallback as 'otherwise', not at the top")
        if self.otherwise is None:
            raise ValueError("'rules' need an 'otherwise' draw for rows no rule matches")
        return self

    def draws(self) -> list[tuple[Condition | None, CapabilityDraw]]:
        """(condition or None for 'always', draw) in evaluation order."""
        if self.rules is None:
            return [(None, self)]
        out: list[tuple[Condition | None, CapabilityDraw]] = [(r.when, r) for r in self.rules]
        assert self.otherwise is not None
        return [*out, (None, self.otherwise)]


class Uniform(Model):
    """Uniform on [low, high)."""

    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)


class Beta(Model):
    """Beta(a, b) on [0, 1]: mean a / (a + b)."""

    a: float = Field(gt=0)
    b: float = Field(gt=0)


class InputTokenRamp(Model):
    """Monotone in input tokens: 0 at ``low`` or fewer, 1 at ``high`` or more, log-linear."""

    low: int = Field(ge=1)
    high: int = Field(ge=2)


class NumberDraw(Model):
    """Exactly one of: constant, uniform, beta, fromInputTokens; all values lie in [0, 1]."""

    constant: float | None = Field(default=None, ge=0, le=1)
    uniform: Uniform | None = None
    beta: Beta | None = None
    from_input_tokens: InputTokenRamp | None = None

    @model_validator(mode="after")
    def _one_of(self) -> NumberDraw:
        given = [
            x
            for x in (self.constant, self.uniform, self.beta, self.from_input_tokens)
            if x is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of constant, uniform, beta, fromInputTokens")
        if self.uniform is not None and self.uniform.low > self.uniform.high:
            raise ValueError("uniform.low must be <= uniform.high")
        ramp = self.from_input_tokens
        if ramp is not None and ramp.low >= ramp.high:
            raise ValueError("fromInputTokens.low must be < fromInputTokens.high")
        return self


class NumberRule(NumberDraw):
    """A numeric draw used for the rows that match ``when``."""

    when: Condition


class NumberAttribute(Model):
    """A number in [0, 1]: a draw, or ordered rules with an ``otherwise`` draw."""

    constant: float | None = Field(default=None, ge=0, le=1)
    uniform: Uniform | None = None
    beta: Beta | None = None
    from_input_tokens: InputTokenRamp | None = None
    rules: list[NumberRule] | None = None
    otherwise: NumberDraw | None = None

    @model_validator(mode="after")
    def _one_of(self) -> NumberAttribute:
        top = {
            k: v
            for k, v in (
                ("constant", self.constant),
                ("uniform", self.uniform),
                ("beta", self.beta),
                ("from_input_tokens", self.from_input_tokens),
            )
            if v is not None
        }
        if self.rules is None:
            NumberDraw.model_validate(top)
            return self
        if top:
            raise ValueError("with 'rules', give the fallback as 'otherwise', not at the top")
        if self.otherwise is None:
            raise ValueError("'rules' need an 'otherwise' draw for rows no rule matches")
        return self

    def draws(self) -> list[tuple[Condition | None, NumberDraw]]:
        """(condition or None for 'always', draw) in evaluation order."""
        if self.rules is None:
            return [
                (
                    None,
                    NumberDraw(
                        constant=self.constant,
                        uniform=self.uniform,
                        beta=self.beta,
                        from_input_tokens=self.from_input_tokens,
                    ),
                )
            ]
        out: list[tuple[Condition | None, NumberDraw]] = [(r.when, r) for r in self.rules]
        assert self.otherwise is not None
        return [*out, (None, self.otherwise)]


class Attributes(Model):
    """How each missing attribute is filled; omitted attributes are not filled."""

    tenant: CategoryAttribute | None = None
    app: CategoryAttribute | None = None
    use_case: CategoryAttribute | None = None
    data_class: CategoryAttribute | None = None
    residency_class: CategoryAttribute | None = None
    risk_class: CategoryAttribute | None = None
    capabilities: CapabilityAttribute | None = None
    complexity: NumberAttribute | None = None
    confidence: NumberAttribute | None = None
    cached_share: NumberAttribute | None = Field(
        default=None,
        description="Share of input tokens served from the prompt cache: "
        "cached_input_tokens = floor(share x input_tokens).",
    )

    @model_validator(mode="after")
    def _check(self) -> Attributes:
        for index, (name, _, kind) in enumerate(ATTRIBUTE_ORDER):
            attribute = getattr(self, name)
            if attribute is None:
                continue
            earlier = {a for a, _, _ in ATTRIBUTE_ORDER[:index]}
            for condition, draw in attribute.draws():
                if condition is not None:
                    late = [to_camel(a) for a in condition.attributes() if a not in earlier]
                    if late:
                        raise ValueError(
                            f"{to_camel(name)}: a rule looks at {', '.join(late)}, which is "
                            "filled later (order: "
                            + ", ".join(to_camel(a) for a, _, _ in ATTRIBUTE_ORDER)
                            + ")"
                        )
                if kind == "category":
                    for value in draw.values():
                        _check_category(name, value)
        return self


def _check_category(name: str, value: str) -> None:
    if name == "data_class" and value not in DATA_CLASSES:
        raise ValueError(f"dataClass: unknown value {value!r} (expected {', '.join(DATA_CLASSES)})")
    if name == "risk_class" and value not in RISK_CLASSES:
        raise ValueError(f"riskClass: unknown value {value!r} (expected {', '.join(RISK_CLASSES)})")
    if not _IDENTIFIER.match(value):
        raise ValueError(
            f"{to_camel(name)}: {value!r} is not an identifier (lowercase, digits, . _ -)"
        )


class EnrichmentBody(Model):
    """The seed and the per-attribute rules."""

    seed: int = Field(ge=0, strict=True, description="Seed of every random draw.")
    attributes: Attributes


class EnrichmentSpec(Model):
    """A declared, seeded way to complete traffic that lacks attributes (recorded in output)."""

    api_version: Literal["nexuscore.io/v1"] = "nexuscore.io/v1"
    kind: Literal["TrafficEnrichment"] = "TrafficEnrichment"
    metadata: Metadata
    spec: EnrichmentBody


def load_enrichment(path: Path) -> tuple[EnrichmentSpec, dict[str, Any]]:
    """Load a spec and the JSON record of it written into the output metadata.

    Raises:
        PolicyLoadError: YAML or schema error, at file:line:column.
    """
    from nexusctl.document import load_document
    from nexusctl.files import sha256_file

    spec, _ = load_document(path, EnrichmentSpec)
    record = {
        "file": path.name,
        "sha256": sha256_file(path, what="enrichment spec"),
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return spec, record


def provides(spec: EnrichmentSpec) -> set[str]:
    """The canonical columns this spec fills."""
    attrs = spec.spec.attributes
    return {column for name, column, _ in ATTRIBUTE_ORDER if getattr(attrs, name) is not None}
