"""Create an S3 object only if its key is absent: one PUT with ``If-None-Match: *``.

pyarrow's S3 file system exposes no conditional write, so the store's writer lock sends this one
request itself, with httpx (a runtime dependency), signed with AWS Signature Version 4 by
botocore's own signer (``S3SigV4Auth``; the payload is hashed into the signature). S3 has
honoured ``If-None-Match: *`` on PutObject since August 2024 (412 Precondition Failed when the
key exists; 409 when a concurrent conditional write is in flight); MinIO and moto do too. Of two
writers, exactly one creates the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from nexusctl.errors import EnvironmentError_


@dataclass(frozen=True)
class SignedPut:
    """A PUT request ready to send: its URL, headers (Authorization included) and body."""

    url: str
    headers: dict[str, str]
    body: bytes


def signed_put(
    endpoint: str | None,
    region: str | None,
    credentials: tuple[str, str, str | None],
    bucket: str,
    key: str,
    body: bytes,
) -> SignedPut:
    """Return a SigV4-signed conditional PUT of ``body`` at ``bucket/key``, signed now.

    ``endpoint`` (``scheme://host[:port]``) selects path-style addressing (MinIO, moto, any
    S3-compatible service); without it, AWS's virtual-hosted ``BUCKET.s3.REGION.amazonaws.com``.
    ``credentials`` is (access key id, secret access key, session token or None).
    """
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    region = region or "us-east-1"
    if endpoint:
        scheme, _, host = (
            endpoint.partition("://") if "://" in endpoint else ("https", "", endpoint)
        )
        path = f"/{bucket}/{key}"
    else:
        scheme, host, path = "https", f"{bucket}.s3.{region}.amazonaws.com", f"/{key}"
    url = f"{scheme}://{host.rstrip('/')}{quote(path, safe='/-_.~')}"
    request = AWSRequest(method="PUT", url=url, data=body, headers={"If-None-Match": "*"})
    S3SigV4Auth(Credentials(*credentials), "s3", region).add_auth(request)
    return SignedPut(url, {name: str(value) for name, value in request.headers.items()}, body)


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
