"""Running git for the registry's writes: one ``git`` process per call, no GitPython.

Every event runs a handful of git commands; GitPython costs ~0.1 s to import and spawns
``git version`` and ``git cat-file`` helpers, more than the commands themselves on a small
change. Reads and rare operations (``pull``, ``init``) still go through ``Store.repo``.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from nexusctl.errors import EnvironmentError_


class GitFailed(Exception):
    """A git command exited non-zero (``stderr`` holds its message)."""

    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} exited {code}: {stderr.strip()}")
        self.code = code
        self.stderr = stderr


def run_git(root: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run ``git -C root ARGS``; return its standard output (text, stripped).

    Raises:
        GitFailed: git exited non-zero.
        EnvironmentError_: git could not be started.
    """
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise EnvironmentError_(f"cannot run git: {exc.strerror}") from exc
    if proc.returncode != 0:
        raise GitFailed(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout.decode(errors="replace").strip()


def read_head(git_dir: Path) -> str | None:
    """Return the commit HEAD names, read from ``git_dir``'s files without starting git.

    A loose ref wins over ``packed-refs`` (as in git). None when the files do not say it
    plainly (no commit yet, another ref storage, a ref naming a ref): ask git then. A reader
    gains more than speed: git refuses a repository another user owns ("dubious ownership").
    """
    try:
        head = (git_dir / "HEAD").read_text(encoding="ascii").strip()
        if not head.startswith("ref: refs/"):
            return head if _is_object_name(head) else None
        ref = head.removeprefix("ref: ")
        try:
            value = (git_dir / ref).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            packed = (git_dir / "packed-refs").read_text(encoding="ascii").splitlines()
            named = (line.partition(" ") for line in packed)  # "<sha> <ref>", "^<peeled>"
            value = next((sha for sha, _, name in named if name == ref), "")
    except (OSError, ValueError):  # no packed-refs, a folder in the way, not ASCII
        return None
    return value if _is_object_name(value) else None


def _is_object_name(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def stage(root: Path, paths: Iterable[str]) -> None:
    """Stage exactly ``paths`` (files, relative): added or updated if present, else removed.

    ``git update-index`` reads and writes the index but never scans the work tree, unlike
    ``git add --all`` (which stats and lists every file of a ~50,000-file registry).

    Raises:
        GitFailed: git refused a path.
    """
    listed = b"".join(p.encode() + b"\0" for p in sorted(paths))
    if listed:  # a split index: git rewrites a small file per event, not all 5 MB of it
        run_git(
            root, "-c", "core.splitIndex=true",
            "update-index", "--add", "--remove", "-z", "--stdin", stdin=listed,
        )  # fmt: skip


def commit_staged(
    root: Path, paths: Iterable[str], parent: str | None, message: str, actor: str,
    moment: dt.datetime,
) -> str:  # fmt: skip
    """Stage ``paths`` and commit the index on top of ``parent`` as ``actor`` at ``moment``
    (the identity never comes from the user's git config); return the new commit.

    What ``git commit`` does, without its refresh of every file's stat data (~50,000
    ``lstat`` calls): ``write-tree``, the commit object (``hash-object``; signed by ``git
    commit-tree -S`` when ``commit.gpgsign`` is set, as ``git commit`` would sign it),
    ``update-ref`` (refusing if HEAD moved from ``parent`` meanwhile), then git's automatic
    maintenance, as ``git commit`` runs it. Hooks are not run (the registry's commits never
    ran them: ``--no-verify``).

    Raises:
        GitFailed: a git step failed; HEAD is unchanged unless ``update-ref`` succeeded.
    """
    stage(root, paths)
    tree = run_git(root, "write-tree")
    if _config_true(root, "commit.gpgsign"):
        commit = _signed_commit(root, tree, parent, message, actor, moment)
    else:
        ident = f"{actor} <{actor}@registry.invalid> {calendar.timegm(moment.utctimetuple())} +0000"
        text = f"tree {tree}\n" + (f"parent {parent}\n" if parent else "")
        text += f"author {ident}\ncommitter {ident}\n\n{message}\n"
        commit = run_git(root, "hash-object", "-t", "commit", "-w", "--stdin", stdin=text.encode())
    subject = message.splitlines()[0] if message else ""
    kind = "commit" if parent is not None else "commit (initial)"
    run_git(root, "update-ref", "-m", f"{kind}: {subject}", "HEAD", commit, parent or "")
    run_git(root, "maintenance", "run", "--auto", "--quiet")
    return commit


def _signed_commit(
    root: Path, tree: str, parent: str | None, message: str, actor: str, moment: dt.datetime
) -> str:
    """``git commit-tree -S`` with the event's identity and time (through GitPython, which
    passes them to git in its environment)."""
    from git import Git, GitCommandError

    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S+0000")
    env = {
        "GIT_AUTHOR_NAME": actor,
        "GIT_AUTHOR_EMAIL": f"{actor}@registry.invalid",
        "GIT_COMMITTER_NAME": actor,
        "GIT_COMMITTER_EMAIL": f"{actor}@registry.invalid",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    git = Git(str(root))
    try:
        with git.custom_environment(**env):
            return str(
                git.commit_tree(tree, *(["-p", parent] if parent else []), "-S", "-m", message)
            )
    except GitCommandError as exc:
        code = exc.status if isinstance(exc.status, int) else 1
        raise GitFailed(["commit-tree"], code, str(exc.stderr)) from None


def _config_true(root: Path, key: str) -> bool:
    try:
        return run_git(root, "config", "--type=bool", "--get", key) == "true"
    except GitFailed:  # not set
        return False


def files_under(folder: Path) -> list[Path]:
    """Return every non-folder entry under ``folder`` (files and symlinks, not followed)."""
    out: list[Path] = []
    for top, dirs, files in os.walk(folder):
        base = Path(top)
        out.extend(base / name for name in files)
        out.extend(base / name for name in dirs if (base / name).is_symlink())
    return out


class FastImport:
    """One ``git fast-import`` process receiving one commit per event (see git-fast-import(1))."""

    def __init__(self, root: Path, branch: str, parent: str | None) -> None:
        self.root = root
        self.branch = branch
        self.parent = parent
        self.mark = 0
        try:
            self.process = subprocess.Popen(
                ["git", "-C", str(root), "fast-import", "--quiet", "--done", "--date-format=raw"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            raise EnvironmentError_(f"cannot run git fast-import: {exc.strerror}") from exc

    def commit(self, touched: Iterable[str], message: str, actor: str, moment: dt.datetime) -> str:
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
        for rel in sorted(touched):
            path = self.root / rel
            if not path.is_file():
                chunks.append(f"D {rel}\n".encode())
                continue
            data = path.read_bytes()
            mode = "100755" if os.stat(path).st_mode & 0o111 else "100644"
            chunks.append(
                b"M %s inline %s\ndata %d\n%s\n" % (mode.encode(), rel.encode(), len(data), data)
            )
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
