"""One sticky pull/merge-request comment per report, with Infracost's four behaviours.

The comment is found again by a hidden marker on its first line,
``<!-- nexusctl-comment: TAG -->`` (``TAG`` defaults to ``simulate``; one comment per tag, so
several policies can each keep their own). Behaviours, as Infracost's ``--behavior``:

- ``update`` (default): edit the newest marked comment in place (nothing is sent when its body
  is already identical); post one if there is none.
- ``new``: always post a new comment; older ones stay as they are.
- ``delete-and-new``: post the new comment, then delete every older marked one.
- ``hide-and-new``: post the new comment, then hide every older marked one (GitHub: GraphQL
  ``minimizeComment`` as OUTDATED; GitLab: the note is folded into ``<details>``, see
  ``_forges``).

New comments are posted *before* old ones are removed, so a failure half-way never leaves the
request without a report. A body longer than the API accepts (GitHub 65,536 characters) is
cut at a line boundary and ends with a note linking to the full report.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx

from nexusctl.ci._forges import Comment, Forge, GitHub, GitLab
from nexusctl.ci._http import ApiClient, Sleep
from nexusctl.clock import Clock
from nexusctl.document import FrozenModel
from nexusctl.errors import InputError, UsageError
from nexusctl.files import read_bounded

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITLAB_PROJECT = re.compile(r"^([0-9]+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$")
_USER_AGENT = "nexusctl-ci-comment"


class Behavior(StrEnum):
    """What to do with the comments an earlier run left (Infracost's ``--behavior``)."""

    update = "update"
    new = "new"
    delete_and_new = "delete-and-new"
    hide_and_new = "hide-and-new"


class Platform(StrEnum):
    """The code-hosting service that holds the pull or merge request."""

    github = "github"
    gitlab = "gitlab"


class CommentResult(FrozenModel):
    """What ``post_comment`` did (the ``--format json`` document of ``ci comment``)."""

    action: Literal["created", "updated", "unchanged"]
    comment_id: int
    url: str | None
    truncated: bool
    characters: int
    deleted: list[int]
    hidden: list[int]


def marker(tag: str) -> str:
    """The hidden first line that identifies the comment of ``tag``."""
    return f"<!-- nexusctl-comment: {tag} -->"


def _outdated_marker(tag: str) -> str:
    return f"<!-- nexusctl-comment-outdated: {tag} -->"


def check_tag(tag: str) -> str:
    """Return ``tag`` when it is safe inside an HTML comment.

    Raises:
        UsageError: it is empty, too long or has characters outside ``[A-Za-z0-9._-]``.
    """
    if not _TAG.match(tag):
        raise UsageError(f"--tag {tag!r}: use 1-64 characters from A-Z a-z 0-9 . _ -")
    return tag


def check_report_url(url: str) -> str:
    """Return ``url`` when it is an http(s) URL safe to put in a Markdown link.

    Raises:
        UsageError: another scheme (``javascript:``…), no host, or spaces/parentheses.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or re.search(r"[\s()<>]", url):
        raise UsageError(f"--report-url {url!r} is not a plain http(s) URL")
    return url


#: The largest report ``read_report`` accepts (a simulation's Markdown is a few KiB).
MAX_REPORT_BYTES = 16 * 1024 * 1024


def read_report(path: Path) -> str:
    """Return the Markdown report at ``path`` (a regular UTF-8 file of at most 16 MiB).

    Raises:
        InputError: missing, not a regular file, too large, or not UTF-8.
    """
    raw = read_bounded(path, MAX_REPORT_BYTES, what="report")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the report is not UTF-8 (byte {exc.start})") from None


def fit_body(markdown: str, *, tag: str, limit: int, report_url: str | None) -> tuple[str, bool]:
    """Return (comment body, truncated?): the marker, then the report cut to ``limit`` chars.

    A cut happens at a line boundary, closes a code fence it would leave open, and ends with a
    note saying how much is shown and where the full report is (``report_url``).
    """
    head = marker(tag) + "\n"
    if len(head) + len(markdown) <= limit:
        return head + markdown, False
    total = len(markdown)
    where = (
        f"[the full report]({report_url})"
        if report_url
        else "the full report in the CI job's summary and artifacts"
    )

    def note(shown: int) -> str:
        return (
            f"\n\n---\n> **Report truncated:** {shown:,} of {total:,} characters shown "
            f"(the comment limit is {limit:,}). See {where}.\n"
        )

    budget = limit - len(head) - len(note(total)) - len("\n```")
    if budget <= 0:
        raise InputError(f"the comment limit {limit} leaves no room for the report")
    cut = markdown.rfind("\n", 0, budget + 1)
    text = markdown[: cut if cut > 0 else budget]
    if sum(1 for line in text.splitlines() if line.lstrip().startswith("```")) % 2:
        text += "\n```"
    return head + text + note(len(text)), True


def _fold(comment: Comment, tag: str, limit: int) -> str:
    old = comment.body.replace(marker(tag), "").strip()
    head = (
        f"{_outdated_marker(tag)}\n<details><summary>Outdated nexusctl report "
        "(superseded by a newer comment)</summary>\n\n"
    )
    tail = "\n\n</details>\n"
    room = limit - len(head) - len(tail)
    return head + old[: max(room, 0)] + tail


def post_comment(
    forge: Forge,
    markdown: str,
    *,
    tag: str = "simulate",
    behavior: Behavior = Behavior.update,
    report_url: str | None = None,
) -> CommentResult:
    """Post ``markdown`` on the pull/merge request as the sticky comment of ``tag``.

    Raises:
        EnvironmentError_: the API refused the token or permission, the request was not
            found, or rate limits outlasted the retries.
        InputError: the API rejected the body (422).
    """
    body, truncated = fit_body(markdown, tag=tag, limit=forge.body_limit, report_url=report_url)
    head = marker(tag)
    # The marker must open the body: a reply quoting it elsewhere is not our comment.
    mine = [c for c in forge.list_comments() if c.body.lstrip().startswith(head)]
    if behavior is Behavior.update and mine:
        newest = mine[-1]
        if newest.body == body:
            return _result("unchanged", newest, body, truncated)
        return _result("updated", forge.update(newest, body), body, truncated)
    created = forge.create(body)
    older = [c for c in mine if c.id != created.id]
    deleted: list[int] = []
    hidden: list[int] = []
    if behavior is Behavior.delete_and_new:
        for comment in older:
            forge.delete(comment)
            deleted.append(comment.id)
    elif behavior is Behavior.hide_and_new:
        for comment in older:
            forge.hide(comment, _fold(comment, tag, forge.body_limit))
            hidden.append(comment.id)
    return _result("created", created, body, truncated, deleted=deleted, hidden=hidden)


def _result(
    action: Literal["created", "updated", "unchanged"],
    comment: Comment,
    body: str,
    truncated: bool,
    *,
    deleted: list[int] | None = None,
    hidden: list[int] | None = None,
) -> CommentResult:
    return CommentResult(
        action=action,
        comment_id=comment.id,
        url=comment.url,
        truncated=truncated,
        characters=len(body),
        deleted=deleted or [],
        hidden=hidden or [],
    )


def open_forge(
    platform: Platform,
    *,
    api_url: str,
    repo: str,
    number: int,
    token: str,
    sleep: Sleep,
    clock: Clock,
    max_retries: int = 3,
    max_wait_s: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> tuple[Forge, ApiClient]:
    """Return the forge for one pull/merge request and its client (close it when done).

    Raises:
        UsageError: a malformed repository/project, a number below 1, or no token.
        InputError: the API URL is not http(s).
    """
    if not token:
        raise UsageError(f"{platform}: no token given")
    if number < 1:
        raise UsageError(f"pull/merge request number must be >= 1 (got {number})")
    pattern = _GITHUB_REPO if platform is Platform.github else _GITLAB_PROJECT
    if not pattern.match(repo) or ".." in repo:
        what = "OWNER/NAME" if platform is Platform.github else "GROUP/NAME or a numeric id"
        raise UsageError(f"--repo {repo!r}: expected {what}")
    if platform is Platform.github:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": _USER_AGENT,
        }
    else:
        headers = {"PRIVATE-TOKEN": token, "User-Agent": _USER_AGENT}
    client = ApiClient(
        service=platform.value,
        api_url=api_url,
        headers=headers,
        token=token,
        sleep=sleep,
        clock=clock,
        max_retries=max_retries,
        max_wait_s=max_wait_s,
        transport=transport,
    )
    forge: Forge = (
        GitHub(client, repo, number)
        if platform is Platform.github
        else GitLab(client, repo, number)
    )
    return forge, client
