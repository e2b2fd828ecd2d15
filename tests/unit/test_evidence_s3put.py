"""The conditional PUT: the address S3 expects, and a SigV4 signature over the condition."""

from __future__ import annotations

import hashlib

import pytest

from nexusctl.evidence.s3put import signed_put


@pytest.mark.parametrize(
    ("endpoint", "token", "url"),
    [
        ("http://127.0.0.1:5000", None, "http://127.0.0.1:5000/audit/ev%20idence/.lock"),
        ("https://minio.example", "tok/en+=", "https://minio.example/audit/ev%20idence/.lock"),
        (None, None, "https://audit.s3.eu-west-1.amazonaws.com/ev%20idence/.lock"),
    ],
)
def test_the_condition_and_the_body_are_signed(
    endpoint: str | None, token: str | None, url: str
) -> None:
    body = b'{"token": "abc"}'
    put = signed_put(
        endpoint, "eu-west-1", ("AKID", "SECRET", token), "audit", "ev idence/.lock", body
    )
    assert put.url == url
    assert put.body == body
    assert put.headers["If-None-Match"] == "*"
    # The payload is hashed into the signature (not UNSIGNED-PAYLOAD), and so is the condition:
    # a proxy cannot drop If-None-Match or swap the body without breaking the signature.
    assert put.headers["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    authorization = put.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/eu-west-1/s3/aws4_request" in authorization
    signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    assert {"host", "if-none-match", "x-amz-content-sha256", "x-amz-date"} <= set(signed)
    if token:
        assert put.headers["X-Amz-Security-Token"] == token
        assert "x-amz-security-token" in signed
    assert "SECRET" not in repr(put.headers)
