"""`nexusctl.ci.comment` against a fake GitHub and a fake GitLab served on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from nexusctl.ci import (
    Behavior,
    CommentResult,
    Platform,
    fit_body,
    marker,
    open_forge,
    post_comment,
)
from nexusctl.clock import FixedClock
from nexusctl.errors import EnvironmentError_, InputError, UsageError
from tests.e2e.fake_forges import Canned, FakeForge

TOKEN = "ghp_fake_token_0123456789abcdef"
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
REPORT = "## ✅ Policy simulation: retail-chat v3 → v4\n\n| gate | value |\n| --- | ---: |\n"


@pytest.fixture(params=["github", "gitlab"])
def forge(request: pytest.FixtureRequest) -> Iterator[FakeForge]:
    with FakeForge(request.param, token=TOKEN) as fake:
        yield fake


def post(
    fake: FakeForge,
    markdown: str = REPORT,
    *,
    behavior: Behavior = Behavior.update,
    tag: str = "simulate",
    report_url: str | None = None,
    sleeps: list[float] | None = None,
    token: str = TOKEN,
    max_retries: int = 3,
    max_wait_s: float = 60.0,
    repo: str | None = None,
) -> CommentResult:
    waits = [] if sleeps is None else sleeps
    forge, client = open_forge(
        Platform(fake.kind),
        api_url=fake.api_url,
        repo=repo or fake.repo,
        number=fake.number,
        token=token,
        sleep=waits.append,
        clock=FixedClock(NOW),
        max_retries=max_retries,
        max_wait_s=max_wait_s,
    )
    try:
        return post_comment(forge, markdown, tag=tag, behavior=behavior, report_url=report_url)
    finally:
        client.close()


def test_update_creates_then_edits_in_place_then_sends_nothing(forge: FakeForge) -> None:
    first = post(forge)
    assert first.action == "created"
    assert forge.bodies() == [marker("simulate") + "\n" + REPORT]
    second = post(forge, REPORT + "more\n")
    assert (second.action, second.comment_id) == ("updated", first.comment_id)
    assert forge.bodies() == [marker("simulate") + "\n" + REPORT + "more\n"]
    edits = forge.calls("PATCH" if forge.kind == "github" else "PUT")
    assert len(edits) == 1
    assert edits[0].body == {"body": marker("simulate") + "\n" + REPORT + "more\n"}
    third = post(forge, REPORT + "more\n")
    assert third.action == "unchanged"
    assert len(forge.calls("PATCH") + forge.calls("PUT")) == 1
    assert len(forge.calls("POST")) == 1


def test_headers_carry_the_token_the_api_version_and_json(forge: FakeForge) -> None:
    post(forge)
    create = forge.calls("POST")[0]
    if forge.kind == "github":
        assert create.path == "/repos/nebula/policies/issues/7/comments"
        assert create.headers["Authorization"] == f"Bearer {TOKEN}"
        assert create.headers["Accept"] == "application/vnd.github+json"
        assert create.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert "PRIVATE-TOKEN" not in create.headers
    else:
        # The project path is one URL-encoded segment.
        assert create.path == "/api/v4/projects/nebula%2Fpolicies/merge_requests/7/notes"
        assert create.headers["PRIVATE-TOKEN"] == TOKEN
        assert "Authorization" not in create.headers
    assert create.headers["Content-Type"] == "application/json"
    assert create.headers["User-Agent"] == "nexusctl-ci-comment"


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_every_page_is_read_to_find_the_marked_comment(kind: str) -> None:
    with FakeForge(kind, token=TOKEN, page_size=2) as fake:
        for i in range(5):
            fake.add(f"review remark {i}")
        mine = fake.add(marker("simulate") + "\nold report")
        fake.add("a later remark")
        result = post(fake)
        assert (result.action, result.comment_id) == ("updated", mine)
        lists = fake.calls("GET")
        assert [r.query.get("page", "1") for r in lists] == ["1", "2", "3", "4"]
        assert all(r.query["per_page"] in ("100", "2") for r in lists)
        if kind == "gitlab":
            assert all(r.query["sort"] == "asc" for r in lists)


def test_new_always_posts_another(forge: FakeForge) -> None:
    a = post(forge, behavior=Behavior.new)
    b = post(forge, behavior=Behavior.new)
    assert a.comment_id != b.comment_id
    assert len(forge.bodies()) == 2


def test_delete_and_new_posts_first_then_deletes_every_older_one(forge: FakeForge) -> None:
    old = [forge.add(marker("simulate") + "\nv1"), forge.add(marker("simulate") + "\nv2")]
    other = forge.add(marker("other") + "\nanother tag's report")
    result = post(forge, behavior=Behavior.delete_and_new)
    assert result.action == "created"
    assert result.deleted == old
    methods = [r.method for r in forge.requests if r.method != "GET"]
    assert methods == ["POST", "DELETE", "DELETE"]
    assert sorted(forge.comments) == [other, result.comment_id]


def test_hide_and_new_on_github_minimizes_as_outdated() -> None:
    with FakeForge("github", token=TOKEN) as fake:
        old = fake.add(marker("simulate") + "\nv1")
        result = post(fake, behavior=Behavior.hide_and_new)
        assert result.hidden == [old]
        graphql = [r for r in fake.requests if r.path == "/graphql"]
        assert len(graphql) == 1
        assert "minimizeComment" in graphql[0].body["query"]
        assert "classifier: OUTDATED" in graphql[0].body["query"]
        assert graphql[0].body["variables"] == {"id": f"IC_node{old}"}
        assert graphql[0].headers["Authorization"] == f"Bearer {TOKEN}"
        assert fake.minimized == {f"IC_node{old}"}
        assert old in fake.comments


def test_github_enterprise_paths_rest_pages_and_graphql() -> None:
    with FakeForge("github", token=TOKEN, prefix="/api/v3", page_size=1) as fake:
        old = [fake.add(marker("simulate") + "\nv1"), fake.add("a remark")]
        result = post(fake, behavior=Behavior.hide_and_new)
        assert result.hidden == [old[0]]
        paths = [r.path for r in fake.requests]
        assert paths[:3] == ["/api/v3/repos/nebula/policies/issues/7/comments"] * 3
        assert paths[-1] == "/api/graphql"
        assert fake.minimized == {f"IC_node{old[0]}"}


def test_a_pagination_link_outside_the_api_path_is_refused() -> None:
    with FakeForge("github", token=TOKEN, prefix="/api/v3") as fake:
        link = f'<{fake.origin}/elsewhere/comments?page=2>; rel="next"'
        fake.script.append(Canned(200, {"Link": link}, []))
        with pytest.raises(EnvironmentError_, match="outside the API"):
            post(fake)
        assert len(fake.requests) == 1


def test_hide_and_new_on_github_reports_a_graphql_error() -> None:
    with FakeForge("github", token=TOKEN) as fake:
        fake.add(marker("simulate") + "\nv1")
        fake.script.append(
            Canned(200, body={"errors": [{"message": "Resource not accessible"}]}, path="/graphql")
        )
        # GraphQL says "no" with a 200 and an errors array; the new comment stays posted.
        with pytest.raises(EnvironmentError_, match=r"minimizeComment on comment \d+ failed"):
            post(fake, behavior=Behavior.hide_and_new)
        assert len(fake.bodies()) == 2


def test_hide_and_new_on_gitlab_folds_the_old_note_and_drops_its_marker() -> None:
    with FakeForge("gitlab", token=TOKEN) as fake:
        old = fake.add(marker("simulate") + "\nv1 report")
        result = post(fake, behavior=Behavior.hide_and_new)
        assert result.hidden == [old]
        folded = fake.comments[old]["body"]
        assert folded.startswith("<!-- nexusctl-comment-outdated: simulate -->\n<details>")
        assert "v1 report" in folded
        assert marker("simulate") not in folded
        # The folded note is never matched again.
        again = post(fake, REPORT + "v3\n")
        assert (again.action, again.comment_id) == ("updated", result.comment_id)


def test_tags_keep_separate_comments(forge: FakeForge) -> None:
    a = post(forge, tag="retail-chat")
    b = post(forge, tag="payments")
    c = post(forge, REPORT + "x\n", tag="retail-chat")
    assert a.comment_id != b.comment_id
    assert (c.action, c.comment_id) == ("updated", a.comment_id)


def test_a_quoted_marker_in_someone_elses_reply_is_not_ours(forge: FakeForge) -> None:
    forge.add("> " + marker("simulate") + "\n> quoted report\n\nI disagree")
    result = post(forge)
    assert result.action == "created"


def test_an_oversized_report_is_truncated_under_githubs_limit_with_a_link() -> None:
    row = "| `retail-chat/default` | `frontier` | 1,234 | +12.00 % |\n"
    report = "## Report\n\n" + row * 3000
    assert len(report) > 65_536
    with FakeForge("github", token=TOKEN) as fake:
        result = post(fake, report, report_url="https://ci.example/runs/42")
        assert result.truncated
        (body,) = fake.bodies()
        assert len(body) <= 65_536
        assert result.characters == len(body)
        assert body.startswith(marker("simulate") + "\n## Report\n")
        assert "[the full report](https://ci.example/runs/42)" in body
        # Cut at a line boundary: no half table row before the note.
        kept = body.split("\n\n---\n")[0]
        assert kept.endswith("|")


def test_gitlab_keeps_a_report_that_github_would_truncate() -> None:
    report = "x" * 70_000 + "\n"
    with FakeForge("gitlab", token=TOKEN) as fake:
        assert not post(fake, report).truncated
        assert fake.bodies() == [marker("simulate") + "\n" + report]


@pytest.mark.parametrize("size", [10, 65_000, 65_520, 65_536, 65_537, 200_000])
@pytest.mark.parametrize("newlines", [True, False])
def test_fit_body_never_exceeds_the_limit(size: int, newlines: bool) -> None:
    text = ("a" * 79 + "\n") * (size // 80) if newlines else "b" * size
    body, truncated = fit_body(text, tag="t", limit=65_536, report_url=None)
    assert len(body) <= 65_536
    assert truncated == (len(marker("t")) + 1 + len(text) > 65_536)
    if truncated:
        assert "CI job's summary and artifacts" in body


def test_fit_body_closes_a_code_fence_it_cuts_through() -> None:
    text = "intro\n```\n" + "line\n" * 20_000 + "```\n"
    body, truncated = fit_body(text, tag="t", limit=10_000, report_url=None)
    assert truncated
    fences = [line for line in body.splitlines() if line.startswith("```")]
    assert len(fences) == 2


@pytest.mark.parametrize(
    ("status", "match", "error"),
    [
        (403, "403", EnvironmentError_),
        (404, "404: Not Found", EnvironmentError_),
        (422, "Validation Failed", InputError),
    ],
)
def test_api_refusals_are_one_clear_error(status: int, match: str, error: type) -> None:
    with FakeForge("github", token=TOKEN) as fake:
        body = {"message": "Not Found"} if status == 404 else {"message": "Forbidden"}
        if status == 422:
            body = {"message": "Validation Failed", "errors": [{"message": "body is invalid"}]}
        fake.script.append(Canned(status, body=body))
        with pytest.raises(error, match=match) as info:
            post(fake)
        assert "GET /repos/nebula/policies/issues/7/comments" in str(info.value)
        assert info.value.hint
        assert fake.bodies() == []


def test_a_rejected_token_is_a_401_with_a_hint_and_nothing_posted(forge: FakeForge) -> None:
    with pytest.raises(EnvironmentError_, match="answered 401") as info:
        post(forge, token="wrong-token")
    assert "token was rejected" in (info.value.hint or "")
    assert forge.bodies() == []


def test_an_unknown_repository_is_a_404(forge: FakeForge) -> None:
    with pytest.raises(EnvironmentError_, match="answered 404"):
        post(forge, repo="nebula/elsewhere")


def test_rate_limit_retry_after_is_waited_then_retried(forge: FakeForge) -> None:
    forge.script.append(Canned(429, {"Retry-After": "7"}, {"message": "slow down"}))
    sleeps: list[float] = []
    assert post(forge, sleeps=sleeps).action == "created"
    assert sleeps == [7.0]
    assert [r.method for r in forge.requests] == ["GET", "GET", "POST"]


def test_github_primary_rate_limit_waits_until_the_reset() -> None:
    reset = int(NOW.timestamp()) + 30
    with FakeForge("github", token=TOKEN) as fake:
        fake.script.append(
            Canned(
                403,
                {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
                {"message": "API rate limit exceeded"},
            )
        )
        sleeps: list[float] = []
        post(fake, sleeps=sleeps)
        assert sleeps == [31.0]


def test_gitlab_rate_limit_with_an_http_date_retry_after() -> None:
    with FakeForge("gitlab", token=TOKEN) as fake:
        when = "Tue, 01 Dec 2026 10:00:12 GMT"
        fake.script.append(Canned(429, {"Retry-After": when}, {"message": "Retry later"}))
        sleeps: list[float] = []
        post(fake, sleeps=sleeps)
        assert sleeps == [12.0]


def test_server_errors_back_off_and_give_up_after_the_retries(forge: FakeForge) -> None:
    forge.script += [Canned(503, body={"message": "unavailable"}) for _ in range(4)]
    sleeps: list[float] = []
    with pytest.raises(EnvironmentError_, match="still answered 503 after 3 retries"):
        post(forge, sleeps=sleeps)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(forge.requests) == 4


def test_a_wait_longer_than_allowed_fails_at_once(forge: FakeForge) -> None:
    forge.script.append(Canned(429, {"Retry-After": "3600"}, {"message": "slow down"}))
    sleeps: list[float] = []
    with pytest.raises(EnvironmentError_, match="wait 3600 s"):
        post(forge, sleeps=sleeps, max_wait_s=60)
    assert sleeps == []


def test_a_403_without_rate_limit_headers_is_not_retried() -> None:
    with FakeForge("github", token=TOKEN) as fake:
        fake.script.append(Canned(403, body={"message": "Resource not accessible by integration"}))
        with pytest.raises(EnvironmentError_, match="Resource not accessible") as info:
            post(fake)
        assert "pull-requests: write" in (info.value.hint or "")
        assert len(fake.requests) == 1


def test_a_pagination_link_to_another_host_is_refused() -> None:
    with FakeForge("github", token=TOKEN) as fake:
        fake.script.append(
            Canned(200, {"Link": '<http://203.0.113.9/steal?page=2>; rel="next"'}, [])
        )
        with pytest.raises(EnvironmentError_, match="outside the API"):
            post(fake)
        assert len(fake.requests) == 1


def test_the_token_is_redacted_from_a_server_message_that_echoes_it() -> None:
    with FakeForge("github", token="other", echo_auth_in_errors=True) as fake:
        with pytest.raises(EnvironmentError_) as info:
            post(fake)
        text = f"{info.value} {info.value!r} {info.value.hint} {info.value.args}"
        assert "Bearer ***" in str(info.value)
        assert TOKEN not in text


def _open(platform: Platform, api_url: str, repo: str, number: int) -> tuple[Any, Any]:
    return open_forge(
        platform,
        api_url=api_url,
        repo=repo,
        number=number,
        token=TOKEN,
        sleep=lambda _: None,
        clock=FixedClock(NOW),
    )


@pytest.mark.parametrize(
    ("platform", "repo", "number"),
    [
        (Platform.github, "not-a-slug", 1),
        (Platform.github, "a/b/c", 1),
        (Platform.github, "../x", 1),
        (Platform.gitlab, "group", 1),
        (Platform.github, "o/r", 0),
    ],
)
def test_bad_repository_or_number_is_a_usage_error(
    platform: Platform, repo: str, number: int
) -> None:
    with pytest.raises(UsageError):
        _open(platform, "http://127.0.0.1:9", repo, number)


def test_a_non_http_api_url_is_refused() -> None:
    with pytest.raises(InputError, match="not an http"):
        _open(Platform.github, "file:///etc/passwd", "o/r", 1)


def test_the_token_is_never_sent_over_plain_http_off_loopback() -> None:
    with pytest.raises(InputError, match=r"plain http to ghe\.example"):
        _open(Platform.github, "http://ghe.example/api/v3", "o/r", 1)
    _, client = _open(Platform.github, "https://ghe.example/api/v3", "o/r", 1)
    client.close()


def test_an_unreachable_api_is_a_could_not_run_error() -> None:
    forge, client = _open(Platform.github, "http://127.0.0.1:9", "o/r", 1)
    with pytest.raises(EnvironmentError_, match="failed") as info:
        post_comment(forge, REPORT)
    client.close()
    assert TOKEN not in repr(info.value)
