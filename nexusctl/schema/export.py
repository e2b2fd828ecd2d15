"""Generate JSON Schema (draft 2020-12) for the exported models, byte-stable, and check drift.

The schema of each model is pydantic's ``model_json_schema(by_alias=True, mode="validation")``
(what a YAML author writes: camelCase names, inputs as accepted), with ``$schema`` and ``$id``
added. Bytes are fixed by sorted keys, a 2-space indent, UTF-8 and one trailing newline, so
the committed ``schemas/`` can be compared byte for byte with what the models produce.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from nexusctl.errors import EnvironmentError_
from nexusctl.schema._registry import exported_models

DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Base of every ``$id``; the file name is appended. Editors resolve schemas by relative
#: path (``# yaml-language-server: $schema=../../schemas/<Name>.json``), not by this URI.
ID_BASE = "https://nexuscore.io/schemas/v1/"


@dataclass(frozen=True)
class Drift:
    """One file whose committed bytes differ from what the models generate."""

    file: str
    state: Literal["changed", "missing", "stale"]


def model_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """Return the JSON Schema of ``model`` with ``$schema`` and ``$id`` set."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = DIALECT
    schema["$id"] = f"{ID_BASE}{name}.json"
    return schema


def render_json(value: Any) -> bytes:
    """Serialise ``value`` the one byte-stable way: sorted keys, 2-space indent, final newline."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def generate_schemas(registry: list[tuple[str, str]] | None = None) -> dict[str, bytes]:
    """Return ``{"<Name>.json": bytes}`` for every exported model (registry order).

    Raises:
        ValueError: a malformed registry entry.
    """
    return {
        f"{name}.json": render_json(model_schema(name, model))
        for name, model in exported_models(registry)
    }


def find_drift(out_dir: Path, generated: dict[str, bytes]) -> list[Drift]:
    """Compare ``generated`` with the ``*.json`` files in ``out_dir``; return every difference.

    A generated file that is absent is ``missing``; one whose bytes differ is ``changed``; a
    ``*.json`` in ``out_dir`` that no model generates is ``stale`` (schemas are never written
    by hand). Sorted by file name.
    """
    drifts: list[Drift] = []
    for file_name, data in generated.items():
        path = out_dir / file_name
        if not path.is_file():
            drifts.append(Drift(file_name, "missing"))
        elif path.read_bytes() != data:
            drifts.append(Drift(file_name, "changed"))
    if out_dir.is_dir():
        drifts += [
            Drift(p.name, "stale")
            for p in out_dir.glob("*.json")
            if p.is_file() and p.name not in generated
        ]
    return sorted(drifts, key=lambda d: d.file)


def write_files(out_dir: Path, files: dict[str, bytes]) -> list[str]:
    """Write each file into ``out_dir`` atomically, skipping identical ones; return those written.

    Raises:
        EnvironmentError_: the folder cannot be created or a file cannot be written.
    """
    written: list[str] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for file_name, data in files.items():
            path = out_dir / file_name
            if path.is_file() and path.read_bytes() == data:
                continue
            write_atomic(path, data)
            written.append(file_name)
    except OSError as exc:
        raise EnvironmentError_(f"cannot write {out_dir}: {exc.strerror or exc}") from None
    return written


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and os.replace.

    A reader sees the old bytes or the new bytes, never a torn file. An existing file keeps
    its permission bits.

    Raises:
        OSError: the write or the rename failed (the temporary file is removed).
    """
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp_name, mode)
        else:
            os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
