"""One small HTTP client for the code-hosting APIs: retries, rate limits, errors, pagination.

What it guarantees, in the order a request goes through it:

1. Only URLs on the configured API origin are ever requested, and a pagination link must stay
   under the API's path: the token is never sent anywhere else.
2. A rate-limited answer (429, or 403 with ``x-ratelimit-remaining: 0`` / ``Retry-After``) and
   a transient 5xx are retried at most ``max_retries`` times, waiting what the server asks
   (``Retry-After`` seconds or HTTP date, else ``x-ratelimit-reset`` / ``ratelimit-reset``
   epoch seconds, else 1, 2, 4 … s) through the injected ``sleep``; a wait longer than
   ``max_wait_s`` fails at once instead of hanging a CI job.
3. Any other 4xx/5xx becomes one ``NexusError`` line naming the method, the path and the
   server's own message: 401/403/404 could not run (4), 422 invalid input (3).
4. The token appears in no message: every text built from a response is passed through
   ``redact`` (a server that echoes the Authorization header does not leak it either).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from nexusctl.clock import Clock
from nexusctl.errors import EnvironmentError_, InputError, NexusError

#: Statuses worth retrying without a rate-limit header: the server said "try again".
_TRANSIENT = frozenset({500, 502, 503, 504})
#: How many pages of comments are read at most (100 per page: 10,000 comments).
MAX_PAGES = 100
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

Sleep = Callable[[float], None]


class ApiClient:
    """A JSON API client bound to one origin and one token (which it never reveals)."""

    def __init__(
        self,
        *,
        service: str,
        api_url: str,
        headers: dict[str, str],
        token: str,
        sleep: Sleep,
        clock: Clock,
        max_retries: int = 3,
        max_wait_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(api_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InputError(f"{service}: API URL {api_url!r} is not an http(s) URL")
        # A token over plain http is readable on the wire; only a loopback test server may.
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise InputError(
                f"{service}: refusing to send the token over plain http to {parts.hostname}",
                hint="use the API's https URL",
            )
        self.service = service
        self.api_url = api_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._secret = token
        self._sleep = sleep
        self._clock = clock
        self._max_retries = max_retries
        self._max_wait_s = max_wait_s
        self._client = httpx.Client(
            headers=headers, timeout=_TIMEOUT, transport=transport, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"ApiClient(service={self.service!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def redact(self, text: str) -> str:
        """Return ``text`` with every occurrence of the token replaced by ``***``."""
        return text.replace(self._secret, "***") if self._secret else text

    def url(self, path: str) -> str:
        """The absolute URL of an API path (``/repos/...``)."""
        return self.api_url + path

    def request(self, method: str, url: str, *, json: Any = None, params: Any = None) -> Any:
        """Send one request (retrying rate limits) and return the decoded JSON body, or None."""
        response = self._send(method, url, json=json, params=params)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise EnvironmentError_(
                f"{self.service}: {method} {self._path(url)} answered {response.status_code} "
                "with a body that is not JSON"
            ) from None

    def paginate(self, url: str, params: dict[str, str]) -> Iterator[tuple[Any, httpx.Headers]]:
        """Yield (JSON page, headers) for ``url`` and every page its headers point to next."""
        next_url: str | None = url
        next_params: dict[str, str] | None = params
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self._send("GET", next_url, params=next_params)
            try:
                page = response.json()
            except ValueError:
                raise EnvironmentError_(
                    f"{self.service}: GET {self._path(next_url)} did not answer JSON"
                ) from None
            yield page, response.headers
            next_url, next_params = self._next_page(next_url, params, response)
        raise EnvironmentError_(
            f"{self.service}: more than {MAX_PAGES} pages of comments; refusing to read on"
        )

    def _next_page(
        self, url: str, params: dict[str, str], response: httpx.Response
    ) -> tuple[str | None, dict[str, str] | None]:
        # GitLab: x-next-page is the next page number, empty on the last page.
        next_page = response.headers.get("x-next-page")
        if next_page is not None:
            if not next_page.strip():
                return None, None
            if not next_page.strip().isdigit():
                raise EnvironmentError_(f"{self.service}: bad x-next-page header {next_page!r}")
            return url, {**params, "page": next_page.strip()}
        # GitHub (RFC 8288 Link header): the next URL carries every parameter itself.
        match = _LINK_NEXT.search(response.headers.get("link", ""))
        if match is None:
            return None, None
        if not match.group(1).startswith(self.api_url + "/"):
            raise EnvironmentError_(f"{self.service}: refusing to follow a link outside the API")
        return match.group(1), None

    def _check_origin(self, url: str) -> None:
        # GitHub Enterprise serves GraphQL beside REST (/api/graphql next to /api/v3), so this
        # checks the origin; pagination links must also stay under the API's path.
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self._origin:
            raise EnvironmentError_(
                f"{self.service}: refusing to follow a link outside the API ({parts.netloc})"
            )

    def _path(self, url: str) -> str:
        return self.redact(urlsplit(url).path or "/")

    def _send(
        self, method: str, url: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        self._check_origin(url)
        for attempt in range(self._max_retries + 1):
            try:
                response = self._client.request(method, url, json=json, params=params)
            except httpx.HTTPError as exc:
                # httpx messages name the URL, never the headers; redact all the same.
                raise EnvironmentError_(
                    f"{self.service}: {method} {self._path(url)} failed: "
                    f"{self.redact(str(exc)) or type(exc).__name__}",
                    hint="check the API URL and the network",
                ) from None
            if response.status_code < 400:
                return response
            wait = self._retry_wait(response, attempt)
            if wait is None:
                raise self._error(method, url, response)
            if attempt == self._max_retries:
                raise EnvironmentError_(
                    f"{self.service}: {method} {self._path(url)} still answered "
                    f"{response.status_code} after {self._max_retries} retries",
                    hint="try again later, or raise --max-retries",
                )
            if wait > self._max_wait_s:
                raise EnvironmentError_(
                    f"{self.service}: rate limited; the API asks to wait {wait:.0f} s, more "
                    f"than the {self._max_wait_s:.0f} s allowed (--max-wait)",
                    hint="try again later",
                )
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        headers = response.headers
        limited = status == 429 or (
            status == 403
            and (
                "retry-after" in headers
                or headers.get("x-ratelimit-remaining") == "0"
                or headers.get("ratelimit-remaining") == "0"
            )
        )
        if not limited and status not in _TRANSIENT:
            return None
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            return self._seconds_from(retry_after)
        reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
        if limited and reset is not None and reset.strip().isdigit():
            return max(0.0, float(reset) - self._clock.now().timestamp()) + 1.0
        return float(2**attempt)

    def _seconds_from(self, value: str) -> float:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 1.0
        return max(0.0, (when - self._clock.now()).total_seconds())

    def _error(self, method: str, url: str, response: httpx.Response) -> NexusError:
        status = response.status_code
        where = f"{self.service}: {method} {self._path(url)} answered {status}"
        said = self._server_message(response)
        detail = f"{where}: {said}" if said else where
        if status == 401:
            return EnvironmentError_(
                detail, hint="the token was rejected: check that it is set and not expired"
            )
        if status == 403:
            return EnvironmentError_(
                detail,
                hint="the token lacks permission: GitHub needs `pull-requests: write` (or "
                "`issues: write`), GitLab the `api` scope",
            )
        if status == 404:
            return EnvironmentError_(
                detail,
                hint="check the repository/project and the pull/merge request number; a token "
                "that cannot see a private repository also gets 404",
            )
        if status == 422:
            return InputError(detail, hint="the API refused the comment body")
        return EnvironmentError_(detail)

    def _server_message(self, response: httpx.Response) -> str:
        try:
            payload = response.json()
        except ValueError:
            return ""
        message: object = None
        if isinstance(payload, dict):
            message = payload.get("message") or payload.get("error")
            errors = payload.get("errors")
            if isinstance(errors, list) and errors:
                first = errors[0]
                extra = first.get("message") if isinstance(first, dict) else first
                if extra:
                    message = f"{message} ({extra})" if message else extra
        if not isinstance(message, str):
            message = str(message) if message else ""
        return self.redact(" ".join(message.split()))[:300]
