"""Import python-tuf without the SDKs and HTTP stack a registry command may not use.

``securesystemslib.signer`` (imported by ``tuf.api.metadata``) imports every optional cloud
signer's SDK it can find; with boto3 installed (another dependency of this environment) that is
~0.3-1 s of a gateway's ``registry resolve``, for an AWS signer the registry never uses. While
tuf is first imported, the AWS SDK is made unimportable (``sys.modules[name] = None``, Python's
documented way to make an import fail), so securesystemslib records it as unavailable exactly as
if it were not installed; afterwards the entries are removed and any other code imports boto3
normally. Only signers are affected: TUF metadata verification uses cryptography directly.

``tuf.ngclient`` imports its default HTTP fetcher, and with it urllib3 and ssl (~0.15 s of CPU),
even when the caller passes its own fetcher (``resolve`` from a registry folder; ``promote`` and
``verify`` use only the Metadata API). While tuf is first imported, the fetcher's module is a
stand-in whose ``Urllib3Fetcher`` builds the real one (imported then) when constructed; the
stand-in leaves ``sys.modules`` right after, so an import of the module gets the real one. The
client's checks are python-tuf's own either way: only when urllib3 loads changes.
"""

from __future__ import annotations

import sys
import types
from typing import Any

_SKIPPED = ("boto3", "botocore", "botocore.exceptions")
_FETCHER = "tuf.ngclient.urllib3_fetcher"


class _DeferredUrllib3Fetcher:
    """What tuf binds as ``Urllib3Fetcher`` at import: constructing it builds the real one."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

        return Urllib3Fetcher(*args, **kwargs)


def load_tuf() -> None:
    """Import ``tuf.api.metadata`` and ``tuf.ngclient`` (once) without the AWS SDK or urllib3."""
    if "tuf.ngclient" in sys.modules:
        return
    blocked = [name for name in _SKIPPED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    stand_in = None
    if _FETCHER not in sys.modules:
        stand_in = types.ModuleType(_FETCHER)
        stand_in.__dict__["Urllib3Fetcher"] = _DeferredUrllib3Fetcher
        sys.modules[_FETCHER] = stand_in
    try:
        import tuf.api.metadata
        import tuf.ngclient  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
        if stand_in is not None and sys.modules.get(_FETCHER) is stand_in:
            del sys.modules[_FETCHER]
