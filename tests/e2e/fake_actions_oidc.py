"""A fake GitHub Actions OIDC token endpoint on 127.0.0.1, for tests only.

In a job with ``permissions: id-token: write`` the runner sets ``ACTIONS_ID_TOKEN_REQUEST_URL``
and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; a client asks ``GET $URL&audience=AUD`` with the
request token as a bearer credential and receives ``{"value": "<JWT>"}`` (GitHub docs,
"About security hardening with OpenID Connect"). This fake does the same: it refuses a wrong
or missing bearer token (401) and a missing audience (400), and mints an ES256 JWT whose issuer
is GitHub's and whose claims describe one workflow run. ``trust(fake_sigstore)`` registers its
signing key with the fake Fulcio, as Fulcio trusts GitHub's published JWKS.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.fake_sigstore import GITHUB_ISSUER, FakeSigstore


@dataclass
class WorkflowRun:
    """The claims GitHub puts in a job's token (a subset; names as GitHub documents them)."""

    repository: str = "nebula/policies"
    ref: str = "refs/heads/main"
    sha: str = "0" * 40
    event_name: str = "push"
    #: The workflow file that defines the job; for a reusable workflow, the called one.
    job_workflow_ref: str = "nexuscore/nexusctl/.github/workflows/policy-gate.yml@refs/heads/main"
    workflow_ref: str = "nebula/policies/.github/workflows/policy.yml@refs/heads/main"

    def claims(self, audience: str, now: int) -> dict[str, Any]:
        owner = self.repository.split("/")[0]
        return {
            "iss": GITHUB_ISSUER,
            "aud": audience,
            "sub": f"repo:{self.repository}:ref:{self.ref}",
            "repository": self.repository,
            "repository_owner": owner,
            "ref": self.ref,
            "sha": self.sha,
            "event_name": self.event_name,
            "workflow_ref": self.workflow_ref,
            "job_workflow_ref": self.job_workflow_ref,
            "runner_environment": "github-hosted",
            "jti": secrets.token_hex(8),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }

    @property
    def san(self) -> str:
        """The subject alternative name Fulcio puts in the certificate for this run."""
        return f"https://github.com/{self.job_workflow_ref}"


@dataclass
class FakeActionsOidc:
    """The token endpoint of one job; ``issued`` holds every JWT it handed out."""

    run: WorkflowRun = field(default_factory=WorkflowRun)
    request_token: str = field(default_factory=lambda: "ghrt-" + secrets.token_urlsafe(24))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    issued: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def trust(self, fake: FakeSigstore) -> None:
        """Make ``fake``'s Fulcio accept this endpoint's tokens for GitHub's issuer."""
        fake.issuer_keys[GITHUB_ISSUER] = self.key.public_key()

    @property
    def request_url(self) -> str:
        """What the runner puts in ACTIONS_ID_TOKEN_REQUEST_URL (it already has a query)."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/_apis/distributedtask/token?api-version=2.0"

    def env(self) -> dict[str, str]:
        """The environment a job with ``id-token: write`` sees."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def __enter__(self) -> FakeActionsOidc:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                status, doc = endpoint._answer(self.path, self.headers.get("Authorization", ""))
                if status != 200:
                    endpoint.refused.append(status)
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, raw_path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        if parts.path != "/_apis/distributedtask/token":
            return 404, {"message": "not found"}
        scheme, _, credential = authorization.partition(" ")
        # The runner's client sends "Bearer"; the id package sends "bearer" (RFC 6750 §2.1
        # makes the scheme case-insensitive).
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            credential.encode(), self.request_token.encode()
        ):
            return 401, {"message": "bad request token"}
        query = parse_qs(parts.query)
        if query.get("api-version") != ["2.0"] or len(query.get("audience", [])) != 1:
            return 400, {"message": "api-version=2.0 and one audience are required"}
        now = int(dt.datetime.now(dt.UTC).timestamp())
        self.audiences.append(query["audience"][0])
        claims = self.run.claims(query["audience"][0], now)
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "fake-actions"})
        self.issued.append(token)
        return 200, {"count": 1, "value": token}
