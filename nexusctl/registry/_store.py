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
--hard`` + ``git clean``), so nothing half-written is ever committed or pushed.

A bulk session (``nexusctl.registry.bulk``, for building or importing large registries; the
CLI never uses it) keeps one commit per event but streams the commits into one ``git
fast-import`` process instead of running ``git add`` + ``git commit`` per event: the same
files, the same commit messages, authors and dates. The branch moves only when the session
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
        self._bulk: _FastImport | None = None

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
        from git import GitCommandError

        try:
            return str(self.repo.git.rev_parse("--verify", "--quiet", "HEAD"))
        except GitCommandError:
            return None

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this clone's lock; undo any half-done event a killed process left behind."""
        lock_path = self.git_dir() / LOCK_NAME
        with open(lock_path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                self.undo_uncommitted()
                self.push_pending()
                yield
            finally:
                self.repo.close()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def undo_uncommitted(self) -> bool:
        """Drop uncommitted changes (a killed command's partial event); True if any were."""
        if not self.dirty():
            return False
        if self.head() is not None:
            self.repo.git.reset("--hard", "HEAD")
        self.repo.git.clean("-fdq")
        return True

    def write(self, rel: str, data: bytes) -> Path:
        """Write ``rel`` atomically (temp file + rename) and return its path."""
        if self._bulk is not None:
            self._bulk.touched.add(rel)
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

    def moved_in(self, rel: str) -> None:
        """Note that the folder ``rel`` was moved into the tree (not written with ``write``)."""
        if self._bulk is not None:
            folder = self.root / rel
            self._bulk.touched.update(
                p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file()
            )

    def commit(self, message: str, actor: str, moment: dt.datetime) -> str:
        """Commit every change as one commit by ``actor``; push if there is a remote.

        The identity is set on the command line, never taken from the global git config.

        Raises:
            ConflictError: the remote moved (push rejected); the local commit is undone.
            EnvironmentError_: git failed otherwise.
        """
        from git import GitCommandError

        if self._bulk is not None:
            return self._bulk.commit(message, actor, moment)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env = {
            "GIT_AUTHOR_NAME": actor,
            "GIT_AUTHOR_EMAIL": f"{actor}@registry.invalid",
            "GIT_COMMITTER_NAME": actor,
            "GIT_COMMITTER_EMAIL": f"{actor}@registry.invalid",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        before = self.head()
        try:
            self.repo.git.add("--all")
            with self.repo.git.custom_environment(**env):
                self.repo.git.commit("--quiet", "--no-verify", "-m", message)
        except GitCommandError as exc:
            raise EnvironmentError_(f"git commit failed: {exc.stderr.strip()}") from None
        self.push(before)
        return self.head() or ""

    def dirty(self) -> bool:
        """Return True when the work tree holds changes no commit has (a half-done event)."""
        return bool(self.repo.git.status("--porcelain", "--untracked-files=all").strip())

    def push_pending(self) -> None:
        """Push commits a killed command made but did not push (completing its event).

        Raises:
            ConflictError: the remote moved meanwhile; pull, then the next command pushes.
        """
        from git import GitCommandError

        if "origin" not in [r.name for r in self.repo.remotes]:
            return
        branch = str(self.repo.git.symbolic_ref("--short", "HEAD"))
        try:
            ahead = self.repo.git.rev_list(f"origin/{branch}..HEAD")
        except GitCommandError:
            return
        if ahead.strip():
            self.push(None)

    def push(self, before: str | None) -> None:
        """Push the current branch to ``origin`` if configured; on rejection undo to ``before``.

        Raises:
            ConflictError: the remote has commits this clone lacks.
            EnvironmentError_: the push failed for another reason.
        """
        from git import GitCommandError

        if "origin" not in [r.name for r in self.repo.remotes]:
            return
        branch = str(self.repo.git.symbolic_ref("--short", "HEAD"))
        try:
            self.repo.git.push("--quiet", "origin", f"HEAD:refs/heads/{branch}")
        except GitCommandError as exc:
            text = str(exc.stderr)
            if before is not None:
                self.repo.git.reset("--hard", before)
            if "rejected" in text or "fetch first" in text or "non-fast-forward" in text:
                raise ConflictError(
                    "the registry remote moved since this clone last pulled; nothing was recorded",
                    hint="run `git -C REGISTRY pull --ff-only` (or `nexusctl registry pull`) "
                    "and retry",
                ) from None
            raise EnvironmentError_(f"git push failed: {text.strip()}") from None

    def pull(self) -> str:
        """Fast-forward this clone from ``origin``; return the new HEAD.

        Raises:
            ConflictError: the histories diverged (never merged automatically).
            EnvironmentError_: git failed.
        """
        from git import GitCommandError

        branch = str(self.repo.git.symbolic_ref("--short", "HEAD"))
        try:
            self.repo.git.pull("--ff-only", "--quiet", "origin", branch)
        except GitCommandError as exc:
            text = str(exc.stderr)
            if "Not possible to fast-forward" in text or "diverg" in text:
                raise ConflictError(
                    "this clone and the remote have diverged; refusing to merge registry history"
                ) from None
            raise EnvironmentError_(f"git pull failed: {text.strip()}") from None
        finally:
            self.repo.close()
        return self.head() or ""

    # -- bulk sessions ---------------------------------------------------------------------

    def in_bulk(self) -> bool:
        """Return True inside a bulk session."""
        return self._bulk is not None

    def bulk_pending(self) -> bool:
        """Return True when the bulk session has files written since its last commit."""
        return self._bulk is not None and bool(self._bulk.touched)

    def begin_bulk(self) -> None:
        """Stream every later ``commit`` into one ``git fast-import`` (one commit per event).

        Raises:
            EnvironmentError_: git could not be started.
        """
        branch = str(self.repo.git.symbolic_ref("HEAD"))
        self._bulk = _FastImport(self.root, branch, self.head())

    def end_bulk(self, *, keep: bool) -> None:
        """Finish (``keep``) or abandon the bulk session.

        Finishing moves the branch to the last commit, re-reads the index from it and checks
        that the work tree holds exactly what was committed; then pushes if there is a remote.

        Raises:
            EnvironmentError_: fast-import failed, or the tree differs from the commits.
        """
        bulk, self._bulk = self._bulk, None
        if bulk is None:
            return
        if not keep:
            bulk.abort()
            return
        bulk.finish()
        if self.head() is not None:
            self.repo.git.reset("--quiet")  # the index follows the new HEAD; files untouched
        if self.dirty():
            raise EnvironmentError_(
                "bulk session: the work tree differs from what was committed "
                "(a file was changed without Store.write or Store.moved_in)"
            )
        self.push_pending()


class _FastImport:
    """One ``git fast-import`` process receiving one commit per event (see git-fast-import(1))."""

    def __init__(self, root: Path, branch: str, parent: str | None) -> None:
        import subprocess

        self.root = root
        self.branch = branch
        self.parent = parent
        self.mark = 0
        self.touched: set[str] = set()
        try:
            self.process = subprocess.Popen(
                ["git", "-C", str(root), "fast-import", "--quiet", "--done", "--date-format=raw"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            raise EnvironmentError_(f"cannot run git fast-import: {exc.strerror}") from exc

    def commit(self, message: str, actor: str, moment: dt.datetime) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.mark += 1
        ident = f"{actor} <{actor}@registry.invalid> {int(moment.timestamp())} +0000"
        text = message.encode() + b"\n"
        chunks = [
            f"commit {self.branch}\nmark :{self.mark}\n".encode(),
            f"author {ident}\ncommitter {ident}\n".encode(),
            b"data %d\n%s\n" % (len(text), text),
        ]
        if self.parent is not None:
            chunks.append(f"from {self.parent}\n".encode())
            self.parent = None
        for rel in sorted(self.touched):
            path = self.root / rel
            if not path.is_file():
                chunks.append(f"D {rel}\n".encode())
                continue
            data = path.read_bytes()
            mode = "100755" if os.stat(path).st_mode & 0o111 else "100644"
            chunks.append(
                b"M %s inline %s\ndata %d\n%s\n" % (mode.encode(), rel.encode(), len(data), data)
            )
        self.touched.clear()
        chunks.append(f"\nget-mark :{self.mark}\n".encode())
        try:
            self.process.stdin.write(b"".join(chunks))
            self.process.stdin.flush()
            line = self.process.stdout.readline().decode().strip()
        except OSError as exc:
            raise EnvironmentError_(f"git fast-import failed: {exc.strerror}") from exc
        if len(line) < 40:
            raise EnvironmentError_("git fast-import stopped (see its message above)")
        return line

    def finish(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"done\n")
            self.process.stdin.close()
        except OSError as exc:
            raise EnvironmentError_(f"git fast-import failed: {exc.strerror}") from exc
        code = self.process.wait()
        self._close()
        if code != 0:
            raise EnvironmentError_("git fast-import failed")

    def abort(self) -> None:
        self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(OSError):  # a killed process's pipe: nothing to flush
                    pipe.close()
