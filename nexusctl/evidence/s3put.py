"""Create an S3 object only if its key is absent: one PUT with ``If-None-Match: *``.

pyarrow's S3 file system exposes no conditional write, so the store's writer lock sends this one
request itself, with httpx (a runtime dependency), signed with AWS Signature Version 4 (S3 user
guide, "Authenticating requests: Using the Authorization header"). S3 has honoured
``If-None-Match: *`` on PutObject since August 2024 (412 Precondition Failed when the key
exists; 409 when a concurrent conditional write is in flight); MinIO and moto do too. Of two
writers, exactly one creates the object.

The payload is hashed into the signature (``x-amz-content-sha256``); the path is URI-encoded
once, as S3 requires. ``tests/unit/test_evidence_s3put.py`` holds the signature to botocore's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from nexusctl.errors import EnvironmentError_

_ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class SignedPut:
    """A PUT request ready to send: its URL, headers (Authorization included) and body."""

    url: str
    headers: dict[str, str]
    body: bytes


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_put(
    endpoint: str | None,
    region: str | None,
    credentials: tuple[str, str, str | None],
    bucket: str,
    key: str,
    body: bytes,
    now: dt.datetime,
) -> SignedPut:
    """Return a SigV4-signed conditional PUT of ``body`` at ``bucket/key``.

    ``endpoint`` (``scheme://host[:port]``) selects path-style addressing (MinIO, moto, any
    S3-compatible service); without it, AWS's virtual-hosted ``BUCKET.s3.REGION.amazonaws.com``.
    ``credentials`` is (access key id, secret access key, session token or None).
    """
    access_key, secret_key, token = credentials
    region = region or "us-east-1"
    if endpoint:
        scheme, _, host = (
            endpoint.partition("://") if "://" in endpoint else ("https", "", endpoint)
        )
        path = f"/{bucket}/{key}"
    else:
        scheme, host, path = "https", f"{bucket}.s3.{region}.amazonaws.com", f"/{key}"
    host = host.rstrip("/")
    uri = quote(path, safe="/-_.~")
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    payload = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "if-none-match": "*",
        "x-amz-content-sha256": payload,
        "x-amz-date": stamp,
    }
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    signed_headers = ";".join(names)
    canonical = "\n".join(
        ["PUT", uri, "", *(f"{n}:{headers[n]}" for n in names), "", signed_headers, payload]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join([_ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = b"AWS4" + secret_key.encode()
    for part in (day, region, "s3", "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"{_ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_headers}, "
        f"Signature={signature}"
    )
    return SignedPut(f"{scheme}://{host}{uri}", headers, body)


def put_if_absent(request: SignedPut, where: str, timeout_s: float = 10.0) -> bool:
    """Send a conditional PUT; True if it created the object, False if the key exists.

    Raises:
        EnvironmentError_: the service refused otherwise or could not be reached (the message
            names ``where`` and the S3 error code, never a credential).
    """
    import httpx

    try:
        response = httpx.put(
            request.url, content=request.body, headers=request.headers, timeout=timeout_s
        )
    except httpx.HTTPError as exc:
        raise EnvironmentError_(f"{where}: cannot create ({type(exc).__name__})") from None
    if response.status_code in (200, 201):
        return True
    # 412: the key exists; 409 ConditionalRequestConflict: another conditional write is racing.
    if response.status_code in (409, 412):
        return False
    code = response.text.partition("<Code>")[2].partition("</Code>")[0][:80]
    raise EnvironmentError_(f"{where}: cannot create (HTTP {response.status_code} {code})")
