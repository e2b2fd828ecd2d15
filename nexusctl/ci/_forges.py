"""The two code-hosting APIs nexusctl comments on, behind one small interface.

GitHub (REST v3 + one GraphQL mutation):

- list   ``GET  /repos/{repo}/issues/{number}/comments?per_page=100`` (pages: ``Link: rel=next``)
- create ``POST /repos/{repo}/issues/{number}/comments``  ``{"body": ...}``
- update ``PATCH /repos/{repo}/issues/comments/{id}``      ``{"body": ...}``
- delete ``DELETE /repos/{repo}/issues/comments/{id}``
- hide   ``POST /graphql`` ``minimizeComment(input: {subjectId, classifier: OUTDATED})``

A pull request is an issue to this API, so its conversation comments live under ``issues``.

GitLab (REST v4): the merge request's notes,
``/projects/{url-encoded path or id}/merge_requests/{iid}/notes`` (pages: ``x-next-page``),
``PUT``/``DELETE .../notes/{id}``. GitLab cannot collapse a note, so "hide" rewrites the old
note as a folded ``<details>`` block marked outdated (its marker removed, so it is never
matched again): the closest to GitHub's minimize that keeps the history readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from nexusctl.ci._http import ApiClient
from nexusctl.document import FrozenModel
from nexusctl.errors import EnvironmentError_

#: GitHub's limit on an issue comment body ("maximum is 65536 characters").
GITHUB_BODY_LIMIT = 65_536
#: GitLab's limit on a note body (1,000,000 characters).
GITLAB_BODY_LIMIT = 1_000_000

_MINIMIZE = (
    "mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) "
    "{ minimizedComment { isMinimized } } }"
)


class Comment(FrozenModel):
    """A comment (GitHub) or note (GitLab) on a pull or merge request."""

    id: int
    body: str
    node_id: str | None = None
    url: str | None = None


class Forge(Protocol):
    """What a behaviour needs from a code-hosting API."""

    service: str
    body_limit: int

    def list_comments(self) -> Sequence[Comment]:
        """Every comment on the pull/merge request, oldest first, all pages."""
        ...

    def create(self, body: str) -> Comment:
        """Post a new comment."""
        ...

    def update(self, comment: Comment, body: str) -> Comment:
        """Replace a comment's body."""
        ...

    def delete(self, comment: Comment) -> None:
        """Delete a comment."""
        ...

    def hide(self, comment: Comment, folded_body: str) -> None:
        """Collapse a comment as outdated (``folded_body`` is GitLab's stand-in)."""
        ...


def _as_comment(data: Any, service: str) -> Comment:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise EnvironmentError_(f"{service}: the API answered a comment without an integer id")
    body = data.get("body")
    node_id = data.get("node_id")
    url = data.get("html_url")
    return Comment(
        id=data["id"],
        body=body if isinstance(body, str) else "",
        node_id=node_id if isinstance(node_id, str) else None,
        url=url if isinstance(url, str) else None,
    )


def _as_list(page: Any, service: str) -> list[Any]:
    if not isinstance(page, list):
        raise EnvironmentError_(f"{service}: the comment list is not a JSON array")
    return page


class GitHub:
    """Comments on one GitHub pull request."""

    service = "github"
    body_limit = GITHUB_BODY_LIMIT

    def __init__(self, client: ApiClient, repo: str, number: int) -> None:
        self._client = client
        self._issue = f"/repos/{repo}/issues/{number}"
        self._comments = f"/repos/{repo}/issues/comments"
        api = client.api_url
        # GitHub Enterprise Server serves REST under /api/v3 and GraphQL under /api/graphql.
        self._graphql = (
            api[: -len("/v3")] + "/graphql" if api.endswith("/api/v3") else api + "/graphql"
        )

    def list_comments(self) -> list[Comment]:
        """Every comment, following ``Link: rel="next"``."""
        found: list[Comment] = []
        for page, _ in self._client.paginate(
            self._client.url(self._issue + "/comments"), {"per_page": "100"}
        ):
            found += [_as_comment(item, self.service) for item in _as_list(page, self.service)]
        return found

    def create(self, body: str) -> Comment:
        """Post a comment on the pull request's conversation."""
        data = self._client.request(
            "POST", self._client.url(self._issue + "/comments"), json={"body": body}
        )
        return _as_comment(data, self.service)

    def update(self, comment: Comment, body: str) -> Comment:
        """Edit a comment's body."""
        data = self._client.request(
            "PATCH", self._client.url(f"{self._comments}/{comment.id}"), json={"body": body}
        )
        return _as_comment(data, self.service)

    def delete(self, comment: Comment) -> None:
        """Delete a comment."""
        self._client.request("DELETE", self._client.url(f"{self._comments}/{comment.id}"))

    def hide(self, comment: Comment, folded_body: str) -> None:
        """Minimize the comment as OUTDATED (GraphQL ``minimizeComment``)."""
        if comment.node_id is None:
            raise EnvironmentError_(f"github: comment {comment.id} has no node_id to minimize")
        data = self._client.request(
            "POST", self._graphql, json={"query": _MINIMIZE, "variables": {"id": comment.node_id}}
        )
        # GraphQL reports failures with 200 and an "errors" array.
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            first = errors[0].get("message") if isinstance(errors[0], dict) else errors[0]
            raise EnvironmentError_(
                f"github: minimizeComment on comment {comment.id} failed: "
                f"{self._client.redact(str(first))[:300]}"
            )


class GitLab:
    """Notes on one GitLab merge request."""

    service = "gitlab"
    body_limit = GITLAB_BODY_LIMIT

    def __init__(self, client: ApiClient, project: str, iid: int) -> None:
        self._client = client
        # A project path (group/sub/name) is one URL-encoded path segment; an id stays as is.
        self._notes = f"/projects/{quote(project, safe='')}/merge_requests/{iid}/notes"

    def list_comments(self) -> list[Comment]:
        """Every note, oldest first, following ``x-next-page``."""
        found: list[Comment] = []
        params = {"per_page": "100", "sort": "asc", "order_by": "created_at"}
        for page, _ in self._client.paginate(self._client.url(self._notes), params):
            found += [_as_comment(item, self.service) for item in _as_list(page, self.service)]
        return found

    def create(self, body: str) -> Comment:
        """Post a note on the merge request."""
        data = self._client.request("POST", self._client.url(self._notes), json={"body": body})
        return _as_comment(data, self.service)

    def update(self, comment: Comment, body: str) -> Comment:
        """Edit a note's body."""
        data = self._client.request(
            "PUT", self._client.url(f"{self._notes}/{comment.id}"), json={"body": body}
        )
        return _as_comment(data, self.service)

    def delete(self, comment: Comment) -> None:
        """Delete a note."""
        self._client.request("DELETE", self._client.url(f"{self._notes}/{comment.id}"))

    def hide(self, comment: Comment, folded_body: str) -> None:
        """Rewrite the note as a folded, outdated copy of itself (GitLab has no minimize)."""
        self.update(comment, folded_body)
