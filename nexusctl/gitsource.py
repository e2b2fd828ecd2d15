"""Read-only facts about a git checkout: the seam every plane that records "where from" uses.

``GitSource`` is the interface (provenance today, the registry next); ``open_git_source``
returns the GitPython implementation. GitPython is imported only when a checkout is opened, so
importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from nexusctl.errors import InputError

if TYPE_CHECKING:
    import git


class GitSource(Protocol):
    """A git work tree, seen read-only."""

    @property
    def root(self) -> Path:
        """The work tree's top folder (absolute, symlinks resolved)."""
        ...

    def head_commit(self) -> str:
        """The 40-hex commit HEAD points at.

        Raises:
            InputError: the repository has no commit yet.
        """
        ...

    def remote_url(self, name: str = "origin") -> str | None:
        """The first URL of remote ``name``, or None when there is no such remote."""
        ...

    def is_dirty(self) -> bool:
        """True when tracked files differ from HEAD (staged or not)."""
        ...

    def relative_path(self, path: Path) -> str:
        """``path`` relative to ``root`` as a POSIX path.

        Raises:
            InputError: ``path`` is outside the work tree.
        """
        ...


class GitPythonSource:
    """``GitSource`` over a GitPython ``Repo``."""

    def __init__(self, repo: git.Repo) -> None:
        self._repo = repo
        self._root = Path(str(repo.working_dir)).resolve()

    @property
    def root(self) -> Path:
        """The work tree's top folder."""
        return self._root

    def head_commit(self) -> str:
        """The 40-hex commit HEAD points at."""
        try:
            return str(self._repo.head.commit.hexsha)
        except ValueError:
            raise InputError(f"{self._root}: the repository has no commit yet") from None

    def remote_url(self, name: str = "origin") -> str | None:
        """The first URL of remote ``name``, or None."""
        remote = next((r for r in self._repo.remotes if r.name == name), None)
        return next(iter(remote.urls), None) if remote is not None else None

    def is_dirty(self) -> bool:
        """True when tracked files differ from HEAD."""
        return bool(self._repo.is_dirty())

    def relative_path(self, path: Path) -> str:
        """``path`` relative to the work tree's root."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root):
            raise InputError(f"{path}: outside the git work tree {self._root}")
        return resolved.relative_to(self._root).as_posix()


def open_git_source(path: Path) -> GitSource:
    """Open the git work tree containing ``path`` (a file or a folder in it).

    Raises:
        InputError: ``path`` does not exist or is not inside a git work tree.
    """
    import git

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    start = path.parent if path.is_file() else path
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"{path} is not inside a git repository") from None
    if repo.bare:
        raise InputError(f"{path}: a bare repository has no work tree")
    return GitPythonSource(repo)
