"""python-tuf is imported without urllib3; its default HTTP fetcher is still the real one."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from nexusctl.registry._tufload import load_tuf

load_tuf()
print("urllib3" in sys.modules, "tuf.ngclient.urllib3_fetcher" in sys.modules)
from tuf.ngclient import Updater, Urllib3Fetcher
from tuf.ngclient.fetcher import FetcherInterface

fetcher = Urllib3Fetcher(app_user_agent="probe")
import tuf.ngclient.urllib3_fetcher as real

print(type(fetcher) is real.Urllib3Fetcher, isinstance(fetcher, FetcherInterface))
print("urllib3" in sys.modules)
"""


def test_tuf_loads_without_urllib3_until_the_http_fetcher_is_built() -> None:
    # A fresh interpreter: this test process may have imported urllib3 already.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["False", "False", "True", "True", "True"]
