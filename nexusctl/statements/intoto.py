"""The in-toto Statement v1 (github.com/in-toto/attestation, spec/v1) as typed models.

A statement is signed as opaque RFC 8785 bytes and parsed only after its signature verified
(sigstore's DSSE rule: verify, then parse). ``parse_statement`` reads those bytes into
``Statement[P]`` for one expected predicate model ``P``; ``statement_bytes`` writes them.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from nexusctl.canonical import canonical_bytes
from nexusctl.document import Model
from nexusctl.document.strict_json import JsonLimitError, loads_strict

STATEMENT_TYPE: Literal["https://in-toto.io/Statement/v1"] = "https://in-toto.io/Statement/v1"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ResourceDescriptor(Model):
    """An in-toto ResourceDescriptor v1: what a statement is about (a subject, a dependency)."""

    name: str | None = None
    uri: str | None = None
    digest: dict[str, str] | None = Field(
        default=None, description="Algorithm -> lowercase hex digest (e.g. sha256, gitCommit)."
    )
    content: str | None = None
    download_location: str | None = None
    media_type: str | None = None
    annotations: dict[str, Any] | None = None

    @classmethod
    def of(cls, name: str, digest: str) -> ResourceDescriptor:
        """Name ``name`` by its SHA-256, given as ``<hex>`` or ``sha256:<hex>``.

        Raises:
            ValueError: the digest is not a lowercase hex SHA-256.
        """
        hex_digest = digest.removeprefix("sha256:")
        if not _HEX64.match(hex_digest):
            raise ValueError(f"not a lowercase hex SHA-256 digest: {digest!r}")
        return cls(name=name, digest={"sha256": hex_digest})

    @property
    def sha256(self) -> str | None:
        """The SHA-256 digest (hex), when the descriptor carries one."""
        return (self.digest or {}).get("sha256")


#: A predicate model: a ``FrozenModel`` (snake_case JSON) or ``Model`` (camelCase JSON) with a
#: class constant ``PREDICATE_TYPE: ClassVar[str]`` naming its ``predicateType`` URI.
P = TypeVar("P", bound=BaseModel)
PredicateT = TypeVar("PredicateT")


class Statement(Model, Generic[PredicateT]):
    """An in-toto Statement v1 whose predicate is the model ``PredicateT``."""

    type_: Literal["https://in-toto.io/Statement/v1"] = Field(default=STATEMENT_TYPE, alias="_type")
    subject: list[ResourceDescriptor] = Field(min_length=1)
    predicate_type: str = Field(min_length=1)
    predicate: PredicateT

    def names_digest(self, sha256_hex: str) -> bool:
        """Return True when some subject carries SHA-256 ``sha256_hex``."""
        return any(s.sha256 == sha256_hex for s in self.subject)


class StatementError(ValueError):
    """Bytes that are not the expected statement; ``kind`` says which check refused them.

    ``kind`` is ``"statement"`` (not an in-toto Statement v1), ``"predicate-type"`` (another
    predicate type than expected) or ``"predicate"`` (the predicate does not match its model).
    """

    def __init__(self, message: str, kind: Literal["statement", "predicate-type", "predicate"]):
        super().__init__(message)
        self.kind = kind


def predicate_type_of(model: type[BaseModel]) -> str:
    """Return the ``PREDICATE_TYPE`` a predicate model declares."""
    value = getattr(model, "PREDICATE_TYPE", None)
    if not isinstance(value, str):
        raise TypeError(f"{model.__name__} declares no PREDICATE_TYPE")
    return value


def parse_statement(payload: bytes, predicate: type[P]) -> Statement[P]:
    """Parse verified ``payload`` bytes as a statement whose predicate is a ``predicate``.

    The statement's ``predicateType`` must be the model's ``PREDICATE_TYPE`` before the
    predicate itself is validated.

    Raises:
        StatementError: not a JSON in-toto Statement v1, another predicate type, or a predicate
            that does not match the model.
    """
    expected = predicate_type_of(predicate)
    try:
        raw = loads_strict(payload)
    except JsonLimitError as exc:
        raise StatementError(f"the signed payload is not JSON ({exc})", "statement") from None
    if not isinstance(raw, dict) or raw.get("_type") != STATEMENT_TYPE:
        raise StatementError("the signed payload is not an in-toto Statement v1", "statement")
    if raw.get("predicateType") == expected:
        # One pass over the statement and its typed predicate; when it fails, the steps
        # below find the same first error and say which part (statement or predicate) it is.
        with contextlib.suppress(ValidationError):
            return _typed(predicate).model_validate(raw)
    try:
        header = _RawStatement.model_validate(raw)
    except ValidationError as exc:
        raise StatementError(
            f"the signed statement is malformed: {_first_error(exc)}", "statement"
        ) from None
    if header.predicate_type != expected:
        raise StatementError(
            f"predicate type {header.predicate_type!r}, expected {expected}", "predicate-type"
        )
    try:
        body = predicate.model_validate(header.predicate)
    except ValidationError as exc:
        raise StatementError(
            f"the predicate does not match {expected}: {_first_error(exc)}", "predicate"
        ) from None
    return Statement(subject=header.subject, predicate_type=expected, predicate=body)


def statement_bytes(
    subjects: Sequence[ResourceDescriptor], predicate_type: str, predicate: Mapping[str, Any]
) -> bytes:
    """Return the canonical (RFC 8785) bytes of an in-toto Statement v1.

    Raises:
        ValueError: no subject, an empty predicate type, or a predicate JSON cannot hold.
    """
    if not subjects:
        raise ValueError("an in-toto statement needs at least one subject")
    if not predicate_type:
        raise ValueError("an in-toto statement needs a predicate type")
    return canonical_bytes(
        {
            "_type": STATEMENT_TYPE,
            "subject": [
                s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in subjects
            ],
            "predicateType": predicate_type,
            "predicate": dict(predicate),
        }
    )


_RawStatement = Statement[dict[str, Any]]


@functools.cache
def _typed(predicate: type[P]) -> type[Statement[P]]:
    """``Statement[predicate]``, made once (pydantic's own lookup costs a parse's worth)."""
    return Statement[predicate]  # type: ignore[valid-type]


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "statement"
    return f"{where}: {first['msg']}"
