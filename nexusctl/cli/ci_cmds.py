"""`nexusctl ci comment`: the simulation's Markdown as one sticky pull/merge-request comment."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated

import typer

from nexusctl.cli._apps import ci_app
from nexusctl.cli._common import handle_errors, write_stdout
from nexusctl.errors import UsageError

#: The API of each platform when --api-url is not given (Actions: pass "$GITHUB_API_URL").
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
DEFAULT_TOKEN_ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}


class CommentFormat(enum.StrEnum):
    """Output formats of `ci comment`."""

    text = "text"
    json = "json"


class PlatformOpt(enum.StrEnum):
    """Where the pull or merge request lives."""

    github = "github"
    gitlab = "gitlab"


class BehaviorOpt(enum.StrEnum):
    """Infracost's comment behaviours."""

    update = "update"
    new = "new"
    delete_and_new = "delete-and-new"
    hide_and_new = "hide-and-new"


COMMENT_HELP = (
    "Post a Markdown report on a pull request (GitHub) or merge request (GitLab) as ONE "
    "comment that later runs keep up to date.\n\n"
    "The comment is found again by a hidden first line, <!-- nexusctl-comment: TAG -->. "
    "--behavior (as Infracost's): update (default) edits the newest such comment in place, or "
    "posts one; new always posts; delete-and-new posts, then deletes the older ones; "
    "hide-and-new posts, then hides the older ones (GitHub: minimized as outdated; GitLab, which "
    "cannot hide a note: folded into a <details> block marked outdated).\n\n"
    "A report longer than the API accepts (GitHub: 65,536 characters) is cut at a line and "
    "ends with a link to --report-url. Rate limits (429, or 403 with Retry-After or "
    "x-ratelimit-reset) are waited out up to --max-retries times, each wait at most "
    "--max-wait seconds.\n\n"
    "The token is read from the environment variable --token-env (default GITHUB_TOKEN or "
    "GITLAB_TOKEN) and is never printed. GitHub needs `pull-requests: write`; GitLab a token "
    "with the `api` scope.\n\n"
    "Exit codes: 0 posted, updated or unchanged; 2 usage (no token, bad --repo, --tag or "
    "--report-url); "
    "3 unreadable report or the API refused the body (422); 4 could not run (401 token "
    "rejected, 403 no permission, 404 repository or request not found, rate limited past the "
    "retries, network error)."
)


@ci_app.command("comment", help=COMMENT_HELP)
@handle_errors
def comment(
    report: Annotated[
        Path, typer.Argument(help="The Markdown report (e.g. `simulate --format markdown -o`).")
    ],
    platform: Annotated[
        PlatformOpt, typer.Option("--platform", help="github or gitlab.", case_sensitive=False)
    ],
    repo: Annotated[
        str,
        typer.Option(
            "--repo",
            help="GitHub OWNER/NAME, or GitLab GROUP/NAME or numeric project id.",
            metavar="REPO",
        ),
    ],
    number: Annotated[
        int,
        typer.Option(
            "--pr", "--mr", help="Pull request number (GitHub) or merge request IID (GitLab)."
        ),
    ],
    behavior: Annotated[
        BehaviorOpt,
        typer.Option("--behavior", help="What to do with earlier comments.", case_sensitive=False),
    ] = BehaviorOpt.update,
    tag: Annotated[
        str,
        typer.Option("--tag", help="Which sticky comment (one per tag, e.g. one per policy)."),
    ] = "simulate",
    report_url: Annotated[
        str | None,
        typer.Option("--report-url", help="Where the full report is, linked when truncated."),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="API base URL (default: the public service; GitHub Enterprise: "
            'https://HOST/api/v3; in Actions pass "$GITHUB_API_URL", in GitLab CI '
            '"$CI_API_V4_URL").',
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            help="Environment variable that holds the token (default GITHUB_TOKEN/GITLAB_TOKEN).",
            metavar="NAME",
        ),
    ] = None,
    max_retries: Annotated[
        int, typer.Option("--max-retries", min=0, max=10, help="Retries on rate limits and 5xx.")
    ] = 3,
    max_wait: Annotated[
        float,
        typer.Option("--max-wait", min=0, help="Longest single wait for a rate limit, seconds."),
    ] = 60.0,
    output_format: Annotated[
        CommentFormat, typer.Option("--format", help="text (one line) or json.")
    ] = CommentFormat.text,
) -> None:
    import time

    from nexusctl.ci import (
        Behavior,
        Platform,
        check_report_url,
        check_tag,
        open_forge,
        post_comment,
        read_report,
    )
    from nexusctl.clock import SYSTEM_CLOCK

    name = token_env or DEFAULT_TOKEN_ENV[platform.value]
    token = os.environ.get(name, "").strip()
    if not token:
        raise UsageError(f"no token: the environment variable {name} is empty or unset")
    markdown = read_report(report)
    forge, client = open_forge(
        Platform(platform.value),
        api_url=api_url or DEFAULT_API[platform.value],
        repo=repo,
        number=number,
        token=token,
        sleep=time.sleep,
        clock=SYSTEM_CLOCK,
        max_retries=max_retries,
        max_wait_s=max_wait,
    )
    try:
        result = post_comment(
            forge,
            markdown,
            tag=check_tag(tag),
            behavior=Behavior(behavior.value),
            report_url=check_report_url(report_url) if report_url else None,
        )
    finally:
        client.close()
    if output_format is CommentFormat.json:
        write_stdout(result.model_dump_json(indent=2))
        return
    extra = "".join(
        [
            ", truncated" if result.truncated else "",
            f", deleted {len(result.deleted)} older" if result.deleted else "",
            f", hid {len(result.hidden)} older" if result.hidden else "",
        ]
    )
    where = f": {result.url}" if result.url else ""
    write_stdout(f"{result.action} comment {result.comment_id}{extra}{where}")
