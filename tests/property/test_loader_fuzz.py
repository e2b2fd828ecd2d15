"""Whatever bytes a file holds, the loader either loads it or raises PolicyLoadError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusctl.errors import PolicyLoadError
from nexusctl.policy.loader import load_catalog, load_policy

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "loader"
VALID = (ASSETS / "valid-policy.yaml").read_bytes()
CATALOG = (ASSETS / "catalog.yaml").read_bytes()

yaml_tokens = st.sampled_from(
    [b"[", b"]", b"{", b"}", b":", b"- ", b"\n", b"  ", b"&a ", b"*a", b"!!str ", b"? ",
     b"---\n", b"'", b'"', b"#", b"|\n", b"<<: ", b"\xff", b"\x00", b"\t", b"version: ", b"1.5"]
)  # fmt: skip


def mutate(data: st.DataObject) -> bytes:
    base = bytearray(data.draw(st.sampled_from([VALID, CATALOG])))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(base)))
        cut = data.draw(st.integers(0, 20))
        base[at : at + cut] = data.draw(st.lists(yaml_tokens, max_size=4).map(b"".join))
    return bytes(base)


def check(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "catalog.yaml").write_bytes(CATALOG)
        target = Path(folder) / "doc.yaml"
        target.write_bytes(raw)
        for load in (load_policy, load_catalog):
            error: PolicyLoadError | None = None
            try:
                load(target)
            except PolicyLoadError as exc:
                error = exc
            if error is not None:
                assert error.location.path
                assert error.location.line is None or error.location.line >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_documents_only_raise_policy_load_error(data: st.DataObject) -> None:
    check(mutate(data))


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=400))
def test_random_bytes_only_raise_policy_load_error(raw: bytes) -> None:
    check(raw)
