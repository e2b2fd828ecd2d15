"""Properties of bundles: any tree of extras round-trips, any single-byte change is caught."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusctl.bundle import build_bundle, check_tree
from nexusctl.errors import VerificationError
from nexusctl.signing import KeySigner, sign_bundle
from nexusctl.signing.keys import generate_key_pair
from tests.conftest import POLICIES

segment = st.text(alphabet="abcxyz-_.0123", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..") and not s.startswith(".")
)
relpath = st.lists(segment, min_size=1, max_size=3).map(lambda parts: "extra/" + "/".join(parts))
tree = st.dictionaries(relpath, st.binary(max_size=64), min_size=1, max_size=6)


def _consistent(files: dict[str, bytes]) -> bool:
    # A path may not be both a file and a folder.
    names = set(files)
    return not any(other.startswith(name + "/") for name in names for other in names)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=tree.filter(_consistent), data=st.data())
def test_bundle_round_trip_and_single_byte_change_is_caught(
    files: dict[str, bytes], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        shutil.copytree(POLICIES, tmp / "src")
        extras = []
        for rel, content in files.items():
            path = tmp / "src" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            extras.append(path)
        one = build_bundle(tmp / "src" / "retail-chat.yaml", tmp / "one", extras)
        two = build_bundle(tmp / "src" / "retail-chat.yaml", tmp / "two", list(reversed(extras)))
        assert one.digest == two.digest
        assert check_tree(tmp / "one").digest == one.digest
        victim = data.draw(st.sampled_from(sorted(files)))
        target = tmp / "one" / victim
        content = bytearray(target.read_bytes())
        if content:
            index = data.draw(st.integers(0, len(content) - 1))
            content[index] ^= data.draw(st.integers(1, 255))
        else:
            content = bytearray(b"\x00")
        target.write_bytes(bytes(content))
        with pytest.raises(VerificationError) as info:
            check_tree(tmp / "one")
        assert info.value.reason == "digest-mismatch"


@settings(max_examples=10, deadline=None)
@given(files=tree.filter(_consistent))
def test_signed_resources_hash_to_subject(files: dict[str, bytes]) -> None:
    import base64
    import json

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        shutil.copytree(POLICIES, tmp / "src")
        extras = []
        for rel, content in files.items():
            path = tmp / "src" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            extras.append(path)
        build_bundle(tmp / "src" / "retail-chat.yaml", tmp / "b", extras)
        generate_key_pair(tmp / "k.pem")
        sign_bundle(tmp / "b", KeySigner.from_file(tmp / "k.pem"))
        doc = json.loads((tmp / "b" / "signature.sigstore.json").read_text())
        statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
        resources = statement["predicate"]["resources"]
        assert {r["name"] for r in resources} == {
            *files,
            "manifest.json",
            "catalog.yaml",
            "retail-chat.yaml",
            "prices/litellm_model_prices_2026-07-24.json",
        }
        # model-signing's root digest, computed here independently of our code.
        root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources))
        assert root.hexdigest() == statement["subject"][0]["digest"]["sha256"]
