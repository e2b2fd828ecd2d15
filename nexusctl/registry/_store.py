"""The registry's git working tree: layout, one lock per clone, one commit per event, push.

Layout (documented in docs/registry.md)::

    config/v000001.yaml                 each config version, exact bytes as signed
    config/v000001.sig/<admin>.json     admin signatures over it (Sigstore bundles)
    config/proposed/...                 a proposed next version and its signatures
    trust/trust.yaml                    the trust policy (and key files it names)
    bundles/<sha256 hex>/               published bundles, content-addressed, never rewritten
    evidence/<sha256 hex>.json          simulation attestations relied on by promotions
    records/000000000001.json           the append-only record log (Sigstore bundles)
    live/<env>.json                     what is live per environment (derived from records)
    tuf/<env>/metadata, tuf/<env>/targets   TUF repository per environment

A command changes files, then commits them in one commit; if it dies in between, the next
command under the lock finds the tree dirty and undoes the half-done event (``git reset
--hard`` + ``git clean``), so nothing half-written is ever committed or pushed. Every change
goes through the Store's writing methods, which note the paths they change; the commit
stages exactly those (``git update-index``, never ``git add --all``, which would scan all
~50,000 files of a large registry), so the tree is clean again after each commit.

A bulk session (``nexusctl.registry.bulk``, for building or importing large registries; the
CLI never uses it) keeps one commit per event but streams the commits into one ``git
fast-import`` process instead of two git processes per event: the same files (the noted
paths), the same commit messages, authors and dates. The branch moves only when the session
ends; a session that dies leaves the tree dirty and the next command undoes all of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from nexusctl.errors import ConflictError, EnvironmentError_, InputError
from nexusctl.registry._gitrun import (
    FastImport,
    GitFailed,
    commit_staged,
    files_under,
    read_head,
    run_git,
)

if TYPE_CHECKING:
    from git import Repo

RECORDS = "records"
BUNDLES = "bundles"
EVIDENCE = "evidence"
LIVE = "live"
CONFIG = "config"
TRUST = "trust"
TUF = "tuf"
SEQUENCE_WIDTH = 12
LOCK_NAME = "nexusctl-registry.lock"
CLEAN_STAMP = "nexusctl-clean"


def record_name(sequence: int) -> str:
    """Return the file name of record ``sequence`` (zero-padded so names sort in order)."""
    return f"{sequence:0{SEQUENCE_WIDTH}d}.json"


def config_name(version: int) -> str:
    """Return the file name of config version ``version``."""
    return f"v{version:06d}.yaml"


class Store:
    """A registry clone on disk, with its git repository."""

    def __init__(self, root: Path) -> None:
        if not (root / ".git").exists():
            raise InputError(
                f"{root}: not a registry (no git repository)",
                hint="create one with `nexusctl registry init`",
            )
        if not (root / RECORDS).is_dir():
            raise InputError(f"{root}: not a registry (no {RECORDS}/ folder)")
        self.root = root
        self._repo: Repo | None = None
        self._bulk: FastImport | None = None
        self._touched: set[str] = set()  # paths changed since the last commit
        self._unstamped = False  # the clean stamp was removed (the tree is being changed)
        self._origin: bool | None = None

    @property
    def repo(self) -> Repo:
        """The git repository (opened on first use: read-only queries never import git)."""
        if self._repo is None:
            from git import InvalidGitRepositoryError, NoSuchPathError, Repo

            try:
                self._repo = Repo(self.root)
            except (InvalidGitRepositoryError, NoSuchPathError):
                raise InputError(f"{self.root}: not a registry (broken git repository)") from None
        return self._repo

    def git_dir(self) -> Path:
        """Return the repository's .git folder (a clone's own files: lock, state cache)."""
        return self.root / ".git"

    @classmethod
    def create(cls, root: Path) -> Store:
        """Create an empty git repository at ``root`` (which must be empty or absent).

        Raises:
            InputError: ``root`` exists and is not an empty folder.
        """
        from git import Repo

        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise InputError(f"{root}: exists and is not empty; refusing to init over it")
        root.mkdir(parents=True, exist_ok=True)
        Repo.init(root, initial_branch="main")
        (root / RECORDS).mkdir()
        return cls(root)

    # -- reading ---------------------------------------------------------------------------

    def record_names(self) -> list[str]:
        """Return every record file's name, in log order (names sort as sequence numbers)."""
        return sorted(n for n in os.listdir(self.root / RECORDS) if n.endswith(".json"))

    def record_paths(self) -> list[Path]:
        """Return every record file, in log order (names sort as sequence numbers)."""
        folder = self.root / RECORDS
        return [folder / n for n in self.record_names()]

    def bundle_dir(self, digest: str) -> Path:
        """Return where the bundle with ``digest`` (``sha256:<hex>``) is stored."""
        return self.root / BUNDLES / digest.removeprefix("sha256:")

    def evidence_path(self, digest: str) -> Path:
        """Return where the evidence file with ``digest`` is stored."""
        return self.root / EVIDENCE / (digest.removeprefix("sha256:") + ".json")

    def config_paths(self) -> list[Path]:
        """Return every applied config version file, oldest first."""
        folder = self.root / CONFIG
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("v*.yaml") if p.is_file())

    def head(self) -> str | None:
        """Return the commit HEAD names (None in a repository with no commit yet)."""
        try:
            return run_git(self.root, "rev-parse", "--verify", "--quiet", "HEAD") or None
        except GitFailed:
            return None

    # -- writing ---------------------------------------------------------------------------
    #
    # Every change to the tree goes through ``write``, ``copy_tree``, ``move`` or
    # ``remove_tree``, which note the paths they change; ``commit`` stages exactly those.
    # The first change after a commit deletes the clean stamp (``.git/nexusctl-clean``, the
    # commit after which the tree was last known clean); each commit writes it again. Taking
    # the lock, a stamp naming HEAD means no event was interrupted since: the ``git status``
    # scan of the whole tree (and the undo) is needed only without one.

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold this clone's lock file exclusively (every writer, and ``pull``)."""
        with open(self.git_dir() / LOCK_NAME, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this clone's lock; undo any half-done event a killed process left behind."""
        with self._exclusive():
            try:
                if not self.stamped_clean():
                    self.undo_uncommitted()
                self.push_pending()
                yield
            except BaseException:
                # A refused or failed event undoes what it wrote before it releases the lock
                # (a killed one leaves it to the next command, above): nothing half-written.
                if self._unstamped and self._bulk is None:
                    with contextlib.suppress(Exception):
                        self.undo_uncommitted()
                raise
            finally:
                self.close()

    def undo_uncommitted(self) -> bool:
        """Drop uncommitted changes (a killed command's partial event); True if any were.

        This scans the whole work tree (``git status``); it runs when no clean stamp names
        HEAD, and by ``config propose`` when a proposal is refused half-written.
        """
        self._changing()
        self._touched.clear()
        head = self.head()
        if not self.dirty():
            self._stamp(head)
            return False
        if head is not None:
            self._git("reset", "--quiet", "--hard", "HEAD")
        self._git("clean", "-fdq")
        self._stamp(head)
        return True

    def stamped_clean(self) -> bool:
        """Return True when the clean stamp names HEAD: no event was interrupted since."""
        try:
            stamp = (self.git_dir() / CLEAN_STAMP).read_text(encoding="ascii").strip()
        except (OSError, ValueError):
            return False
        return bool(stamp) and stamp == (read_head(self.git_dir()) or self.head())

    def uncommitted(self, rel: str) -> bool:
        """Return True when the folder ``rel`` holds changes no commit has.

        Read-only, unlike ``dirty``: no stamp is dropped, and git does not refresh the index
        (``--no-optional-locks``), so a reader without write access can ask too.

        Raises:
            EnvironmentError_: git failed (e.g. it refuses a clone another user owns).
        """
        args = ("status", "--porcelain", "--untracked-files=all", "--", rel)
        try:
            return bool(run_git(self.root, "--no-optional-locks", *args))
        except GitFailed as exc:
            raise EnvironmentError_(f"git status failed: {exc.stderr.strip()}") from None

    def _stamp(self, head: str | None) -> None:
        """Record that the tree is clean at commit ``head`` (see ``locked``)."""
        if head is None or self._bulk is not None:
            return
        target = self.git_dir() / CLEAN_STAMP
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{CLEAN_STAMP}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(head + "\n")
            os.replace(tmp, target)
        except OSError:
            return  # without a stamp the next command checks the whole tree: only slower
        self._unstamped = False

    def _changing(self) -> None:
        """Called before each change to the tree: the clean stamp goes first."""
        if not self._unstamped:
            try:
                (self.git_dir() / CLEAN_STAMP).unlink(missing_ok=True)
            except OSError as exc:
                raise EnvironmentError_(f"cannot remove the clean stamp: {exc.strerror}") from exc
            self._unstamped = True

    def write(self, rel: str, data: bytes) -> Path:
        """Write ``rel`` atomically (temp file + rename) and return its path."""
        self._changing()
        self._touched.add(Path(rel).as_posix())
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise EnvironmentError_(f"cannot write {target}: {exc.strerror}") from exc
        return target

    def move(self, src: str, dst: str) -> None:
        """Rename the file or folder ``src`` to ``dst`` (both relative to the root)."""
        self._changing()
        self._note_files(src)
        (self.root / src).rename(self.root / dst)
        self._note_files(dst)

    def copy_tree(self, source: Path, rel: str) -> None:
        """Copy the folder ``source`` (symlinks as symlinks) to the new folder ``rel``."""
        import shutil

        self._changing()
        shutil.copytree(source, self.root / rel, symlinks=True)
        self._note_files(rel)

    def remove_tree(self, rel: str) -> None:
        """Delete the folder ``rel`` and everything in it (if it exists)."""
        import shutil

        self._changing()
        self._note_files(rel)
        shutil.rmtree(self.root / rel, ignore_errors=True)

    def _note_files(self, rel: str) -> None:
        path = self.root / rel
        if path.is_dir() and not path.is_symlink():
            self._touched.update(p.relative_to(self.root).as_posix() for p in files_under(path))
        elif path.is_symlink() or path.exists():
            self._touched.add(Path(rel).as_posix())

    def commit(self, message: str, actor: str, moment: dt.datetime) -> str:
        """Commit the changed paths as one commit by ``actor``; push if there is a remote.

        Only the paths ``write``, ``copy_tree``, ``move`` and ``remove_tree`` noted are
        staged (``git update-index``): the tree was clean when the lock was taken, so they are
        every change, and git never scans the whole work tree. The author, committer and date
        are the event's, never taken from the git config.

        Raises:
            ConflictError: the remote moved (push rejected); the local commit is undone.
            EnvironmentError_: git failed otherwise.
        """
        if self._bulk is not None:
            touched, self._touched = self._touched, set()
            return self._bulk.commit(touched, message, actor, moment)
        if not self._touched:
            raise EnvironmentError_("git commit failed: nothing to commit (no file was written)")
        before = self.head()
        try:
            head = commit_staged(self.root, self._touched, before, message, actor, moment)
        except GitFailed as exc:
            raise EnvironmentError_(f"git commit failed: {exc.stderr.strip()}") from None
        self._touched.clear()
        self.push(before)  # undone on rejection: the tree is clean at ``before`` then
        self._stamp(head)
        return head or ""

    def close(self) -> None:
        """Release GitPython's helper processes, if this store ever started them."""
        if self._repo is not None:
            self._repo.close()

    def dirty(self) -> bool:
        """Return True when the work tree holds changes no commit has (a half-done event).

        Finding it dirty also drops the clean stamp, so the next command under the lock
        undoes what was found (``registry verify``'s ``uncommitted-event`` says it will).
        """
        if not self._git("status", "--porcelain", "--untracked-files=all"):
            return False
        if self._bulk is None:
            with contextlib.suppress(OSError):  # verify still reports; only the undo waits
                (self.git_dir() / CLEAN_STAMP).unlink(missing_ok=True)
        return True

    def _git(self, *args: str) -> str:
        try:
            return run_git(self.root, *args)
        except GitFailed as exc:
            raise EnvironmentError_(f"git {args[0]} failed: {exc.stderr.strip()}") from None

    def _has_origin(self) -> bool:
        if self._origin is None:
            self._origin = "origin" in self._git("remote").split()
        return self._origin

    def push_pending(self) -> None:
        """Push commits a killed command made but did not push (completing its event).

        Raises:
            ConflictError: the remote moved meanwhile; pull, then the next command pushes.
        """
        if not self._has_origin():
            return
        branch = self._git("symbolic-ref", "--short", "HEAD")
        try:
            ahead = run_git(self.root, "rev-list", f"origin/{branch}..HEAD")
        except GitFailed:
            return
        if ahead:
            self.push(None)

    def push(self, before: str | None) -> None:
        """Push the current branch to ``origin`` if configured; on rejection undo to ``before``.

        Raises:
            ConflictError: the remote has commits this clone lacks.
            EnvironmentError_: the push failed for another reason.
        """
        if not self._has_origin():
            return
        branch = self._git("symbolic-ref", "--short", "HEAD")
        try:
            run_git(self.root, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        except GitFailed as exc:
            text = exc.stderr
            if before is not None:
                self._git("reset", "--quiet", "--hard", before)
                self._stamp(before)
            if "rejected" in text or "fetch first" in text or "non-fast-forward" in text:
                raise ConflictError(
                    "the registry remote moved since this clone last pulled; nothing was recorded",
                    hint="run `git -C REGISTRY pull --ff-only` (or `nexusctl registry pull`) "
                    "and retry",
                ) from None
            raise EnvironmentError_(f"git push failed: {text.strip()}") from None

    def pull(self) -> str:
        """Fast-forward this clone from ``origin``; return the new HEAD.

        Under the lock (no event, and no gateway read, overlaps it); a tree clean before
        (stamped, or else checked: a fresh clone has no stamp) is stamped clean at the new
        HEAD, so readers keep their fast path.

        Raises:
            ConflictError: the histories diverged (never merged automatically).
            EnvironmentError_: git failed.
        """
        with self._exclusive():
            clean = self.stamped_clean() or not self.uncommitted(".")
            branch = self._git("symbolic-ref", "--short", "HEAD")
            try:
                run_git(self.root, "pull", "--ff-only", "--quiet", "origin", branch)
            except GitFailed as exc:
                text = exc.stderr
                if "Not possible to fast-forward" in text or "diverg" in text:
                    raise ConflictError(
                        "this clone and the remote have diverged; refusing to merge registry "
                        "history"
                    ) from None
                raise EnvironmentError_(f"git pull failed: {text.strip()}") from None
            head = self.head()
            if clean:
                self._stamp(head)
            return head or ""

    # -- bulk sessions ---------------------------------------------------------------------

    def in_bulk(self) -> bool:
        """Return True inside a bulk session."""
        return self._bulk is not None

    def bulk_pending(self) -> bool:
        """Return True when the bulk session has files written since its last commit."""
        return self._bulk is not None and bool(self._touched)

    def begin_bulk(self) -> None:
        """Stream every later ``commit`` into one ``git fast-import`` (one commit per event).

        Raises:
            EnvironmentError_: git could not be started.
        """
        branch = self._git("symbolic-ref", "HEAD")
        self._touched.clear()
        self._bulk = FastImport(self.root, branch, self.head())

    def end_bulk(self, *, keep: bool) -> None:
        """Finish (``keep``) or abandon the bulk session.

        Finishing moves the branch to the last commit, re-reads the index from it and checks
        that the work tree holds exactly what was committed; then pushes if there is a remote.

        Raises:
            EnvironmentError_: fast-import failed, or the tree differs from the commits.
        """
        bulk, self._bulk = self._bulk, None
        self._touched.clear()
        if bulk is None:
            return
        if not keep:
            bulk.abort()
            return
        bulk.finish()
        if self.head() is not None:
            self._git("reset", "--quiet")  # the index follows the new HEAD; files untouched
        if self.dirty():
            raise EnvironmentError_(
                "bulk session: the work tree differs from what was committed "
                "(a file was changed other than through the Store's writing methods)"
            )
        self._stamp(self.head())
        self.push_pending()
