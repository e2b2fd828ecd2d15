"""Import python-tuf without the cloud KMS SDKs securesystemslib would pull in.

``securesystemslib.signer`` (imported by ``tuf.api.metadata``) imports every optional cloud
signer's SDK it can find; with boto3 installed (another dependency of this environment) that is
~0.3-1 s of a gateway's ``registry resolve``, for an AWS signer the registry never uses. While
tuf is first imported, the AWS SDK is made unimportable (``sys.modules[name] = None``, Python's
documented way to make an import fail), so securesystemslib records it as unavailable exactly as
if it were not installed; afterwards the entries are removed and any other code imports boto3
normally. Only signers are affected: TUF metadata verification uses cryptography directly.
"""

from __future__ import annotations

import sys

_SKIPPED = ("boto3", "botocore", "botocore.exceptions")


def load_tuf() -> None:
    """Import ``tuf.api.metadata`` and ``tuf.ngclient`` (once) without the AWS SDK."""
    if "tuf.ngclient" in sys.modules:
        return
    blocked = [name for name in _SKIPPED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import tuf.api.metadata
        import tuf.ngclient  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
