"""A fake GitHub REST/GraphQL API and a fake GitLab v4 API on 127.0.0.1, for tests only.

Each ``FakeForge`` is a real HTTP server in a thread that keeps the comments of one pull
(merge) request in memory and records every request it receives (method, raw path, headers,
JSON body), so tests assert what nexusctl sent, not only what it printed. It answers as the
real services do for the calls ``nexusctl ci comment`` makes:

- GitHub: ``/repos/{owner}/{name}/issues/{n}/comments`` (list with ``Link: rel="next"``,
  create), ``/repos/{owner}/{name}/issues/comments/{id}`` (PATCH, DELETE), ``POST /graphql``
  (``minimizeComment``); 401 "Bad credentials", 404 "Not Found", 422 for a body over 65,536
  characters.
- GitLab: ``/api/v4/projects/{url-encoded path}/merge_requests/{iid}/notes`` (list with
  ``x-next-page``, create), ``.../notes/{id}`` (PUT, DELETE); 401, 404, 400 for an oversized
  body.

``script`` queues canned answers (status, headers, body) served before the normal logic:
rate limits, server errors, bad pagination links.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GITHUB_LIMIT = 65_536
GITLAB_LIMIT = 1_000_000


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Canned:
    """An answer served instead of the normal logic (for the next matching request)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    method: str | None = None
    path: str | None = None


class FakeForge:
    """A fake GitHub (``kind="github"``) or GitLab (``kind="gitlab"``) API server."""

    def __init__(
        self,
        kind: str,
        *,
        token: str,
        repo: str = "nebula/policies",
        number: int = 7,
        page_size: int = 100,
        echo_auth_in_errors: bool = False,
        prefix: str = "",
    ) -> None:
        self.kind = kind
        self.prefix = prefix
        self.token = token
        self.repo = repo
        self.number = number
        self.page_size = page_size
        self.echo_auth_in_errors = echo_auth_in_errors
        self.comments: dict[int, dict[str, Any]] = {}
        self.minimized: set[str] = set()
        self.requests: list[Recorded] = []
        self.script: list[Canned] = []
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeForge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        if self.kind == "github":
            return self.origin + self.prefix
        return self.origin + "/api/v4"

    # -- state helpers -----------------------------------------------------------------------

    def add(self, body: str, *, author: str = "someone") -> int:
        """Seed a comment; return its id."""
        with self._lock:
            self._next_id += 1
            cid = self._next_id
            self.comments[cid] = {"id": cid, "body": body, "author": author}
            return cid

    def bodies(self) -> list[str]:
        return [c["body"] for c in sorted(self.comments.values(), key=lambda c: c["id"])]

    def calls(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if method is None or r.method == method]

    def _view(self, comment: dict[str, Any]) -> dict[str, Any]:
        cid = comment["id"]
        if self.kind == "github":
            return {
                "id": cid,
                "node_id": f"IC_node{cid}",
                "body": comment["body"],
                "html_url": f"{self.origin}/{self.repo}/pull/{self.number}#issuecomment-{cid}",
                "user": {"login": comment["author"]},
            }
        return {"id": cid, "body": comment["body"], "author": {"username": comment["author"]}}

    # -- HTTP --------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                body = json.loads(raw) if raw else None
                record = Recorded(self.command, parts.path, query, dict(self.headers), body)
                with forge._lock:
                    forge.requests.append(record)
                    canned = next(
                        (
                            c
                            for c in forge.script
                            if c.method in (None, self.command) and c.path in (None, parts.path)
                        ),
                        None,
                    )
                    if canned is not None:
                        forge.script.remove(canned)
                if canned is not None:
                    status, headers, payload = canned.status, canned.headers, canned.body
                else:
                    status, headers, payload = forge._answer(record)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _do

        return Handler

    def _answer(self, req: Recorded) -> tuple[int, dict[str, str], Any]:
        if self.kind == "github":
            auth = req.headers.get("Authorization", "")
            if auth != f"Bearer {self.token}":
                said = (
                    f"Bad credentials ({auth})" if self.echo_auth_in_errors else "Bad credentials"
                )
                return 401, {}, {"message": said}
            return self._github(req)
        if req.headers.get("PRIVATE-TOKEN") != self.token:
            return 401, {}, {"message": "401 Unauthorized"}
        return self._gitlab(req)

    def _github(self, req: Recorded) -> tuple[int, dict[str, str], Any]:
        # GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql.
        if self.prefix == "/api/v3" and req.path == "/api/graphql":
            req = Recorded(req.method, "/graphql", req.query, req.headers, req.body)
        elif self.prefix:
            if not req.path.startswith(self.prefix + "/"):
                return 404, {}, {"message": "Not Found"}
            req = Recorded(
                req.method, req.path[len(self.prefix) :], req.query, req.headers, req.body
            )
        issue = f"/repos/{self.repo}/issues/{self.number}/comments"
        one = re.fullmatch(rf"/repos/{re.escape(self.repo)}/issues/comments/(\d+)", req.path)
        if req.path == "/graphql" and req.method == "POST":
            node = req.body["variables"]["id"]
            if not any(self._view(c)["node_id"] == node for c in self.comments.values()):
                return 200, {}, {"errors": [{"message": f"Could not resolve to a node {node}"}]}
            self.minimized.add(node)
            return (
                200,
                {},
                {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}},
            )
        if req.path == issue and req.method == "GET":
            return self._page(req, issue)
        if req.path == issue and req.method == "POST":
            if len(req.body["body"]) > GITHUB_LIMIT:
                return 422, {}, _too_long()
            cid = self.add(req.body["body"], author="nexusctl-bot")
            return 201, {}, self._view(self.comments[cid])
        if one and int(one.group(1)) in self.comments:
            cid = int(one.group(1))
            if req.method == "PATCH":
                if len(req.body["body"]) > GITHUB_LIMIT:
                    return 422, {}, _too_long()
                self.comments[cid]["body"] = req.body["body"]
                return 200, {}, self._view(self.comments[cid])
            if req.method == "DELETE":
                del self.comments[cid]
                return 204, {}, None
        return 404, {}, {"message": "Not Found"}

    def _gitlab(self, req: Recorded) -> tuple[int, dict[str, str], Any]:
        project = self.repo.replace("/", "%2F")
        notes = f"/api/v4/projects/{project}/merge_requests/{self.number}/notes"
        one = re.fullmatch(re.escape(notes) + r"/(\d+)", req.path)
        if req.path == notes and req.method == "GET":
            return self._page(req, notes)
        if req.path == notes and req.method == "POST":
            if len(req.body["body"]) > GITLAB_LIMIT:
                return 400, {}, {"message": {"note": ["is too long"]}}
            cid = self.add(req.body["body"], author="nexusctl-bot")
            return 201, {}, self._view(self.comments[cid])
        if one and int(one.group(1)) in self.comments:
            cid = int(one.group(1))
            if req.method == "PUT":
                self.comments[cid]["body"] = req.body["body"]
                return 200, {}, self._view(self.comments[cid])
            if req.method == "DELETE":
                del self.comments[cid]
                return 204, {}, None
        return 404, {}, {"message": "404 Not found"}

    def _page(self, req: Recorded, path: str) -> tuple[int, dict[str, str], Any]:
        size = min(int(req.query.get("per_page", "20")), self.page_size)
        page = int(req.query.get("page", "1"))
        items = [self._view(c) for c in sorted(self.comments.values(), key=lambda c: c["id"])]
        chunk = items[(page - 1) * size : page * size]
        more = page * size < len(items)
        if self.kind == "gitlab":
            return 200, {"x-next-page": str(page + 1) if more else ""}, chunk
        headers = {}
        if more:
            nxt = f"{self.api_url}{path}?per_page={size}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
        return 200, headers, chunk


def _too_long() -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"message": "Body is too long (maximum is 65536 characters)"}],
    }
