"""Where one simulation's reports go: every ``--output`` and ``--format``, planned up front.

One replay writes any number of reports. ``plan_outputs`` turns the repeated options into
(format, target) pairs, and refuses what it cannot pair rather than dropping anything:

* ``--output PATH`` alone: the format follows the extension (``EXTENSIONS``);
* ``--output FORMAT:PATH``: the format is named (``github:summary.md``; ``github:`` alone is
  ``$GITHUB_STEP_SUMMARY``, else stdout);
* ``--format F --output P`` repeated: paired in order; the counts must match;
* no ``--output``: one ``--format`` (default ``text``) to stdout; ``-`` as a path is stdout.

``check_targets`` then refuses, before any request is replayed, a target that cannot be
written (missing folder, a directory) or that names the traffic, the decisions file or another
target. ``write_atomic`` publishes a report under its name only once it is complete.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from nexusctl.errors import EnvironmentError_, UsageError
from nexusctl.simulate.reports import ReportFormat

#: The report format a file extension stands for (case-insensitive).
EXTENSIONS: dict[str, ReportFormat] = {
    ".txt": ReportFormat.text,
    ".json": ReportFormat.json,
    ".md": ReportFormat.markdown,
    ".markdown": ReportFormat.markdown,
    ".html": ReportFormat.html,
    ".htm": ReportFormat.html,
    ".xml": ReportFormat.junit,
}
STDOUT = "-"


@dataclass(frozen=True)
class OutputTarget:
    """One report: its format and where it goes (``None``: stdout, or for ``github`` the
    ``$GITHUB_STEP_SUMMARY`` file when set)."""

    format: ReportFormat
    path: Path | None = None

    @property
    def to_stdout(self) -> bool:
        """Whether the report document itself is printed on stdout (github: maybe)."""
        return self.path is None and self.format is not ReportFormat.github


def _named(spec: str) -> tuple[ReportFormat | None, str]:
    """Split ``FORMAT:PATH``; a prefix that is not a format name is part of the path."""
    head, sep, tail = spec.partition(":")
    if sep and head.lower() in ReportFormat.__members__:
        return ReportFormat(head.lower()), tail
    return None, spec


def _by_extension(spec: str) -> ReportFormat:
    suffix = Path(spec).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(EXTENSIONS)
        raise UsageError(
            f"--output {spec}: cannot tell the report format from "
            f"{'the extension ' + repr(suffix) if suffix else 'a name without an extension'}",
            hint=f"use one of {known}, name it (--output json:{spec}), or pair it with --format",
        )
    return EXTENSIONS[suffix]


def plan_outputs(
    formats: Sequence[ReportFormat], outputs: Sequence[str], *, summary_file: bool = False
) -> list[OutputTarget]:
    """Pair the ``--format`` and ``--output`` values into report targets, in the given order.

    ``summary_file``: ``$GITHUB_STEP_SUMMARY`` is set, so ``github:`` does not print the
    summary on stdout (and may share stdout with another report).

    Raises:
        UsageError: counts that do not pair, an extension that names no format, a ``FORMAT:``
            prefix that contradicts its ``--format``, two reports for stdout, or one path twice.
    """
    if not outputs:
        if len(formats) > 1:
            raise UsageError(
                f"{len(formats)} --format values but no --output: only one report can go to stdout",
                hint="give one --output PATH per --format, in the same order",
            )
        return [OutputTarget(formats[0] if formats else ReportFormat.text)]
    if formats and len(formats) != len(outputs):
        raise UsageError(
            f"{len(formats)} --format value(s) for {len(outputs)} --output value(s)",
            hint="give one --format per --output, in the same order, or no --format "
            "(each --output's format then follows its extension, or FORMAT:PATH)",
        )
    targets = []
    for index, spec in enumerate(outputs):
        named, path = _named(spec)
        paired = formats[index] if formats else None
        if named is not None and paired is not None and named is not paired:
            raise UsageError(f"--output {spec} names {named.value} but its --format is {paired}")
        chosen = named or paired
        if path in ("", STDOUT):
            targets.append(OutputTarget(chosen or ReportFormat.text))
        else:
            targets.append(OutputTarget(chosen or _by_extension(path), Path(path)))
    _refuse_duplicates(targets, summary_file)
    return targets


def _refuse_duplicates(targets: list[OutputTarget], summary_file: bool) -> None:
    if sum(t.to_stdout for t in targets) > 1:
        raise UsageError("more than one report names stdout ('-'); give the others a path")
    github = [t for t in targets if t.format is ReportFormat.github and t.path is None]
    if github and not summary_file and any(t.to_stdout for t in targets):
        # Without $GITHUB_STEP_SUMMARY the github summary is printed too: two documents.
        raise UsageError("the github summary and another report both write to stdout")
    seen: dict[Path, str] = {}
    for target in targets:
        if target.path is None:
            continue
        key = Path(os.path.abspath(target.path))
        if key in seen:
            raise UsageError(
                f"--output {target.path} is given twice ({seen[key]} and {target.format.value})"
            )
        seen[key] = target.format.value


def check_targets(targets: Sequence[OutputTarget], inputs: Sequence[Path]) -> None:
    """Refuse targets that could not be written, or that would overwrite an input.

    Run before the replay, so a typo in the last ``--output`` does not cost the whole run.

    Raises:
        UsageError: a target is one of ``inputs`` (the traffic, the decisions file).
        EnvironmentError_: its folder does not exist, or it is a directory.
    """
    protected = {Path(os.path.abspath(p)) for p in inputs}
    for target in targets:
        path = target.path
        if path is None:
            continue
        if Path(os.path.abspath(path)) in protected or (
            path.exists() and any(p.exists() and path.samefile(p) for p in inputs)
        ):
            raise UsageError(f"--output {path} would overwrite an input of this simulation")
        if path.is_dir():
            raise EnvironmentError_(f"{path}: cannot write the report: is a directory")
        if not path.parent.is_dir():
            raise EnvironmentError_(
                f"{path}: cannot write the report: the folder {path.parent} does not exist"
            )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fresh temporary file beside it and a rename.

    A reader sees the old file or the complete new one, never a half-written report; a
    failed write leaves the old file as it was.

    Raises:
        EnvironmentError_: the file cannot be written.
    """
    partial = path.parent / f".{path.name}.{secrets.token_hex(8)}.partial"
    try:
        # O_EXCL: never follow or clobber an existing file; 0o666 lets the umask decide.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(partial, path)
    except OSError as exc:
        raise EnvironmentError_(f"{path}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)


def check_report_url(url: str) -> str:
    """Return ``url`` when it is an http(s) URL safe to put in a Markdown link.

    Raises:
        UsageError: another scheme (``javascript:``…), no host, or spaces, quotes or brackets.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or re.search(r"[\s()<>\"'`]", url):
        raise UsageError(f"--report-url {url!r} is not a plain http(s) URL")
    return url
