"""The conditional PUT's SigV4 signature is exactly botocore's for the same request."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nexusctl.evidence.s3put import signed_put


@pytest.mark.parametrize(
    ("endpoint", "token", "url"),
    [
        ("http://127.0.0.1:5000", None, "http://127.0.0.1:5000/audit/ev%20idence/.lock"),
        ("https://minio.example", "tok/en+=", "https://minio.example/audit/ev%20idence/.lock"),
        (None, None, "https://audit.s3.eu-west-1.amazonaws.com/ev%20idence/.lock"),
    ],
)
def test_signature_matches_botocore(endpoint: str | None, token: str | None, url: str) -> None:
    body = b'{"token": "abc"}'
    first = signed_put(
        endpoint,
        "eu-west-1",
        ("AKID", "SECRET", token),
        "audit",
        "ev idence/.lock",
        body,
        dt.datetime.now(dt.UTC),
    )
    assert first.url == url
    reference = AWSRequest(
        method="PUT",
        url=first.url,
        data=body,
        headers={
            "if-none-match": "*",
            "x-amz-content-sha256": first.headers["x-amz-content-sha256"],
        },
    )
    S3SigV4Auth(Credentials("AKID", "SECRET", token), "s3", "eu-west-1").add_auth(reference)
    # botocore stamps its own time: sign ours at that instant.
    when = dt.datetime.strptime(reference.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    ours = signed_put(
        endpoint,
        "eu-west-1",
        ("AKID", "SECRET", token),
        "audit",
        "ev idence/.lock",
        body,
        when.replace(tzinfo=dt.UTC),
    )
    assert ours.headers["authorization"] == reference.headers["Authorization"]
    assert ours.headers["if-none-match"] == "*"
    if token:
        assert ours.headers["x-amz-security-token"] == token
    assert "SECRET" not in repr(ours.headers)
