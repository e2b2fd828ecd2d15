"""The PEP 517 build backend: setuptools, with an sdist whose bytes are reproducible.

Every hook is setuptools' own (``setuptools.build_meta``); only ``build_sdist`` adds a step.
setuptools (65, as pinned) writes the sdist's tar members with the files' modification times,
the builder's user and group names and umask, and a gzip header holding the build time and the
archive's name, so two builds of one commit never match. After setuptools has written it, the
archive is rewritten with only what the reproducible-builds.org rules allow to vary removed:

- members sorted by name; owner and group 0 with empty names; modes 0644, or 0755 for
  directories and executables;
- modification times clamped to ``SOURCE_DATE_EPOCH`` when it is set (its SOURCE_DATE_EPOCH
  specification: "clamp" files newer than it), left alone otherwise;
- the POSIX.1-2001 (pax) tar format, and a gzip header with no file name and the mtime
  ``SOURCE_DATE_EPOCH`` (0 without it; RFC 1952 §2.3.1 allows 0 for "no time stamp").

The wheel needs no such step: ``wheel`` already honours SOURCE_DATE_EPOCH and sorts entries.
``tests/e2e/test_sdist_reproducible.py`` builds the sdist twice and compares the bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from setuptools import build_meta as _setuptools  # type: ignore[import-untyped]

# Every other hook is setuptools' own, unchanged.
from setuptools.build_meta import *  # type: ignore[import-untyped]  # noqa: F403

#: An sdist of this project is well under this; a larger one means something went wrong.
MAX_SDIST_BYTES = 64 * 1024 * 1024


def build_sdist(sdist_directory: str, config_settings: dict[str, object] | None = None) -> str:
    """Build the sdist with setuptools, then rewrite it reproducibly; return its file name."""
    name: str = _setuptools.build_sdist(sdist_directory, config_settings)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    normalise_sdist(Path(sdist_directory) / name, int(epoch) if epoch else None)
    return name


def normalise_sdist(path: Path, epoch: int | None) -> None:
    """Rewrite the ``.tar.gz`` at ``path`` in place as described in the module docstring."""
    raw = path.read_bytes()
    if len(raw) > MAX_SDIST_BYTES:
        raise ValueError(f"{path}: larger than {MAX_SDIST_BYTES} bytes; refusing to rewrite it")
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as source:
        for info in source.getmembers():
            if not (info.isfile() or info.isdir()):
                raise ValueError(f"{path}: unexpected member type for {info.name}")
            handle = source.extractfile(info) if info.isfile() else None
            members.append((info, handle.read() if handle is not None else None))
    out = io.BytesIO()
    # RFC 1952: no FNAME field when the name is empty; MTIME is the epoch (or 0).
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=epoch or 0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as target,
    ):
        for info, data in sorted(members, key=lambda member: member[0].name):
            clean = tarfile.TarInfo(info.name)
            clean.type = info.type
            clean.size = len(data) if data is not None else 0
            executable = info.isdir() or bool(info.mode & 0o111)
            clean.mode = 0o755 if executable else 0o644
            clean.uid = clean.gid = 0
            clean.uname = clean.gname = ""
            mtime = int(info.mtime)
            clean.mtime = min(mtime, epoch) if epoch is not None else mtime
            target.addfile(clean, io.BytesIO(data) if data is not None else None)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)
