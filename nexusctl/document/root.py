"""Repository roots: the folder inside which a policy's file references may cross folders.

A policy's references (its catalog, the catalog's price table, a test's policy) are confined.
Without a root the confinement is the referring file's own folder, as it always was. A
repository root widens it to one folder tree, so a second tenant's policy in its own folder
can name the shared catalog (``catalog: ../shared/catalog.yaml``), and nothing outside that
tree can ever be read.

The root is, in order:

1. the folder given explicitly (``--root DIR``); the policy must sit inside it;
2. else the nearest folder, walking up from the policy's folder, that holds a
   ``.nexusctl-root`` marker (an empty regular file). The walk stops, without a root, at the
   top of a git work tree (a folder holding ``.git``) or of a policy bundle (a folder holding
   ``manifest.json``), so a marker planted above the repository or around a bundle never widens
   what a policy may read;
3. else the policy's own folder.

References are resolved component by component from real (symlink-free) paths: a symlink
anywhere below the root is refused, never followed (what loads must be what ``policy bundle``
copies and signs, and a symlink loop is refused before it is entered), ``..`` may climb only
while it stays inside the root, and absolute or home-relative paths are refused outright.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nexusctl.errors import InputError, Location, PolicyLoadError

#: The marker file that makes its folder a repository root.
ROOT_MARKER = ".nexusctl-root"
#: Folders that end the walk up (the top of a git work tree, the top of a policy bundle).
_WALK_STOPS = (".git", "manifest.json")

_HOW_TO_WIDEN = (
    f"to share files across folders, put an empty {ROOT_MARKER} file in a folder above both "
    "(or pass --root DIR)"
)


@dataclass(frozen=True)
class RepositoryRoot:
    """The folder references are confined to (a real path), and how it was chosen."""

    path: Path
    chosen_by: Literal["option", "marker", "folder"]
    #: What the folder belongs to, for messages when no root was found ("policy", "test file").
    owner: str = "policy"

    def describe(self) -> str:
        """Name the root for a message: the repository root, or the policy's own folder.

        The repository root is shown relative to the working folder when it lies below it,
        so messages (and lint output) do not depend on where the repository is checked out.
        """
        if self.chosen_by == "folder":
            return f"the {self.owner}'s folder (no {ROOT_MARKER} above it)"
        shown = self.path
        here = Path(os.path.realpath(os.getcwd()))
        if shown.is_relative_to(here):
            shown = Path(os.path.relpath(shown, here))
        return f"the repository root {shown.as_posix()}"


def find_root(start: Path, explicit: Path | None = None, owner: str = "policy") -> RepositoryRoot:
    """Return the repository root for a document in folder ``start``.

    ``owner`` names the document in messages when no root is found ("the policy's folder").

    Raises:
        InputError: ``explicit`` is not a folder, or does not contain ``start``.
        PolicyLoadError: a marker that is not a regular file (a symlink, a folder), or a marker
            at the filesystem root (located at the marker).
    """
    folder = Path(os.path.realpath(start))
    if explicit is not None:
        if not explicit.is_dir():
            raise InputError(f"--root {explicit}: not a folder")
        root = Path(os.path.realpath(explicit))
        if not folder.is_relative_to(root):
            raise InputError(
                f"{start} is not inside --root {explicit}",
                hint="pass the folder that holds both the policy and what it references",
            )
        return RepositoryRoot(root, "option", owner)
    for candidate in (folder, *folder.parents):
        marker = candidate / ROOT_MARKER
        try:
            info = marker.lstat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise PolicyLoadError(
                Location(str(marker)), f"cannot read the root marker: {exc.strerror}"
            ) from None
        if info is not None:
            _check_marker(marker, info)
            return RepositoryRoot(candidate, "marker", owner)
        if any(os.path.lexists(candidate / stop) for stop in _WALK_STOPS):
            break
    return RepositoryRoot(folder, "folder", owner)


def _check_marker(marker: Path, info: os.stat_result) -> None:
    where = Location(str(marker))
    if stat.S_ISLNK(info.st_mode):
        raise PolicyLoadError(
            where,
            "the root marker is a symlink; refused (replace it with an empty regular file)",
        )
    if not stat.S_ISREG(info.st_mode):
        raise PolicyLoadError(
            where, "the root marker is not a regular file (make it an empty file, or remove it)"
        )
    if marker.parent == Path(marker.anchor):
        raise PolicyLoadError(
            where,
            "a root marker at the filesystem root would confine nothing; refused (put it in "
            "the folder that holds your policies and catalogs)",
        )


def resolve_reference(root: RepositoryRoot, base: Path, reference: str, where: Location) -> Path:
    """Resolve ``reference`` relative to folder ``base``, confined to ``root``; return it.

    ``root`` and ``base`` may be given through symlinks (both are made real first); below
    the root every component is looked at with ``lstat`` and a symlink is refused.

    Raises:
        PolicyLoadError: empty, absolute or home-relative reference; one that climbs out of
            ``root``; a symlink on the way; a target that is missing or not a regular file.
    """
    shown = f"reference '{reference}'"
    if not reference or reference.startswith(("/", "~", "\\")) or Path(reference).is_absolute():
        raise PolicyLoadError(
            where,
            f"{shown} must be a relative path",
            hint="write it relative to this file's folder, e.g. 'catalog.yaml' or "
            "'../shared/catalog.yaml'",
        )
    if "\\" in reference or "\x00" in reference:
        raise PolicyLoadError(where, f"{shown} holds a backslash or NUL; use '/' between folders")
    root_real = root.path
    current = Path(os.path.realpath(base))
    if not current.is_relative_to(root_real):
        raise PolicyLoadError(
            where,
            f"{shown}: the referring file is outside {root.describe()}; pass a --root above it",
        )
    parts = [p for p in reference.split("/") if p not in ("", ".")]
    for index, part in enumerate(parts):
        if part == "..":
            if current == root_real:
                raise PolicyLoadError(where, _escape_message(shown, root))
            current = current.parent
            continue
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            raise PolicyLoadError(
                where,
                f"referenced file '{reference}' does not exist (the path is relative to the "
                "folder of the file that names it)",
            ) from None
        except OSError as exc:
            raise PolicyLoadError(
                where, f"{shown}: cannot read {current}: {exc.strerror}"
            ) from None
        if stat.S_ISLNK(info.st_mode):
            raise PolicyLoadError(
                where,
                f"{shown} passes through a symlink ({current.name} -> "
                f"{os.readlink(current)}); symlinks are refused so that what loads is what a "
                "bundle copies and signs: name the file by its real relative path",
            )
        last = index == len(parts) - 1
        if not last and not stat.S_ISDIR(info.st_mode):
            raise PolicyLoadError(where, f"{shown}: {current} is not a folder")
        if last and not stat.S_ISREG(info.st_mode):
            raise PolicyLoadError(where, f"{shown}: {current} is not a regular file")
    if not parts or current.is_dir():
        raise PolicyLoadError(where, f"{shown} names a folder, not a file")
    return current


def _escape_message(shown: str, root: RepositoryRoot) -> str:
    if root.chosen_by == "folder":
        return f"{shown} points outside {root.describe()}: {_HOW_TO_WIDEN}"
    return (
        f"{shown} points outside {root.describe()}: move the file inside it, or the "
        f"{ROOT_MARKER} marker up"
        if root.chosen_by == "marker"
        else f"{shown} points outside {root.describe()}: move the file inside it, or pass a "
        "higher --root"
    )
