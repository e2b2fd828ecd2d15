"""The bundle manifest: every file with its SHA-256 and size, and the digest over it all.

``manifest.json`` holds exactly the RFC 8785 canonical bytes of the manifest, so the bundle
digest is both ``sha256(canonical(manifest))`` and ``sha256(manifest.json)``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
)

from nexusctl.canonical import canonical_bytes, sha256_hex
from nexusctl.document import API_VERSION, Identifier, Model
from nexusctl.document.strict_json import (
    MAX_SAFE_INTEGER,
    JsonLimitError,
    JsonTooLargeError,
    loads_strict,
)
from nexusctl.errors import VerificationError
from nexusctl.statements import Reason

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.sigstore.json"
ATTESTATIONS_DIR = "attestations"
SCHEMA_VERSION: Literal[1] = 1
#: Most files a bundle may hold; a manifest listing more is refused before it is validated.
MAX_BUNDLE_FILES = 100_000
#: Most bytes ``manifest.json`` may have: ample for MAX_BUNDLE_FILES entries with long paths,
#: and small enough that parsing the largest one stays far below 1 GB of memory.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
#: Names a bundle's content may not use: the files ``bundle``/``sign``/``attest`` add.
RESERVED_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, ATTESTATIONS_DIR})

FileRole = Literal["policy", "catalog", "price-table", "extra"]


def check_relative_path(path: str) -> str | None:
    """Return why ``path`` is not a safe, normalised bundle-relative POSIX path, or None.

    Refused: empty, absolute, backslashes, NUL, ``.``/``..``/empty segments, trailing slash.
    """
    if not path:
        return "empty path"
    if "\\" in path or "\x00" in path:
        return "backslash or NUL in path"
    if path.startswith("/"):
        return "absolute path"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "'.', '..' or empty path segment"
    return None


class ManifestFile(Model):
    """One file of the bundle."""

    path: str = Field(description="Relative POSIX path inside the bundle, normalised.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Lowercase hex SHA-256.")
    size: int = Field(ge=0, le=MAX_SAFE_INTEGER, strict=True, description="Size in bytes.")
    role: FileRole = Field(description="What the file is to the policy.")

    @field_validator("path")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        problem = check_relative_path(value)
        if problem:
            raise ValueError(f"unsafe path {value!r}: {problem}")
        return value


class DocumentRef(Model):
    """A versioned document of the bundle (the policy or its catalog)."""

    name: Identifier
    version: int = Field(ge=1, strict=True)
    path: str


class PriceTableInfo(Model):
    """The price table the catalog reads."""

    name: str
    path: str


class BundleManifest(Model):
    """What a policy bundle holds; its canonical bytes are what the bundle digest covers."""

    api_version: Literal["nexuscore.io/v1"] = Field(default=API_VERSION)
    kind: Literal["PolicyBundleManifest"] = "PolicyBundleManifest"
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(description="Bundle name: '<policy name>-v<policy version>'.")
    policy: DocumentRef
    catalog: DocumentRef
    price_table: PriceTableInfo | None = None
    files: list[ManifestFile] = Field(
        min_length=1, max_length=MAX_BUNDLE_FILES, description="Sorted by path, unique."
    )

    @field_validator("files")
    @classmethod
    def _sorted_unique(cls, files: list[ManifestFile]) -> list[ManifestFile]:
        paths = [f.path for f in files]
        if paths != sorted(set(paths)):
            raise ValueError("files must be sorted by path with no duplicates")
        for path in paths:
            if path.split("/")[0] in RESERVED_NAMES:
                raise ValueError(f"file {path!r} uses a reserved bundle name")
        return files

    def to_bytes(self) -> bytes:
        """Return the canonical (RFC 8785) bytes written to ``manifest.json``."""
        return canonical_bytes(self.model_dump(mode="json", by_alias=True, exclude_none=True))

    def digest(self) -> str:
        """Return the bundle digest ``sha256:<hex>`` over the canonical manifest bytes."""
        return "sha256:" + sha256_hex(self.to_bytes())


def parse_manifest(data: bytes) -> BundleManifest:
    """Parse ``manifest.json`` bytes; they must be exactly the canonical form.

    Bounded before anything is built: at most ``MAX_MANIFEST_BYTES`` bytes and
    ``MAX_BUNDLE_FILES`` entries, nesting and integers as ``loads_strict`` allows.

    Raises:
        VerificationError: reason ``manifest-too-large`` (too many bytes or entries),
            ``malformed-manifest`` (not JSON, beyond the JSON bounds, wrong schema, not
            canonical) or ``unsafe-path`` (an absolute, ``..`` or otherwise unnormalised path).
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise VerificationError(
            f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB",
            reason=Reason.MANIFEST_TOO_LARGE,
        )
    try:
        # Each file entry is one JSON object; a few more for the document and its refs.
        raw = loads_strict(data, max_depth=8, max_containers=MAX_BUNDLE_FILES + 8)
    except JsonTooLargeError as exc:
        raise VerificationError(
            f"{MANIFEST_NAME}: {exc}", reason=Reason.MANIFEST_TOO_LARGE
        ) from None
    except JsonLimitError as exc:
        raise VerificationError(
            f"{MANIFEST_NAME}: {exc}", reason=Reason.MALFORMED_MANIFEST
        ) from None
    for entry in raw.get("files", []) if isinstance(raw, dict) else []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and check_relative_path(path):
            raise VerificationError(
                f"{MANIFEST_NAME} lists an unsafe path {path!r}: {check_relative_path(path)}",
                reason=Reason.UNSAFE_PATH,
            )
    try:
        manifest = BundleManifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise VerificationError(
            f"{MANIFEST_NAME} does not match the manifest schema: {where}: {first['msg']}",
            reason=Reason.MALFORMED_MANIFEST,
        ) from None
    if manifest.to_bytes() != data:
        raise VerificationError(
            f"{MANIFEST_NAME} is not in canonical (RFC 8785) form",
            reason=Reason.MALFORMED_MANIFEST,
            hint="a manifest edited by hand no longer matches its signature either",
        )
    return manifest


def model_signing_order(paths: list[str]) -> list[str]:
    """Sort paths the way model-signing orders its resources (by path segments)."""
    return sorted(paths, key=lambda p: PurePosixPath(p).parts)
