"""CI glue: the sticky pull/merge-request comment and GitHub job-summary rendering.

Public names: ``post_comment``, ``open_forge``, ``fit_body``, ``marker``, ``check_tag``,
``check_report_url``, ``read_report``, ``Behavior``, ``Platform``, ``CommentResult``
(comment.py); ``render_github``, ``render_github_json`` and ``GitHubOutput`` in
``nexusctl.ci.github`` (a simulation's job summary and ``::error`` annotations; imported from
there, so that ``ci comment`` does not load the simulation's modules). The APIs are spoken
with httpx; nothing here reads the environment or prints: the CLI hands in the token and
every URL.
"""

from __future__ import annotations

from nexusctl.ci.comment import (
    Behavior,
    CommentResult,
    Platform,
    check_report_url,
    check_tag,
    fit_body,
    marker,
    open_forge,
    post_comment,
    read_report,
)

__all__ = [
    "Behavior",
    "CommentResult",
    "Platform",
    "check_report_url",
    "check_tag",
    "fit_body",
    "marker",
    "open_forge",
    "post_comment",
    "read_report",
]
