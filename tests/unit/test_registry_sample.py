"""`registry sample`: an environment's registered traffic sample, found in the registry and
checked against its registered SHA-256 before anyone replays it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nexusctl.errors import UsageError, VerificationError
from nexusctl.registry.samples import registered_sample
from tests.registry_kit import new_world

SAMPLE = b"PAR1 not really parquet: only its digest matters here PAR1"


def _world(tmp_path: Path, location: str) -> Path:
    sha = hashlib.sha256(SAMPLE).hexdigest()
    world = new_world(tmp_path, traffic_sha=sha, traffic_location=location)
    kept = world.reg / "traffic" / "week.parquet"
    kept.parent.mkdir()
    kept.write_bytes(SAMPLE)
    return world.reg


def test_the_kept_sample_is_found_with_its_digest(tmp_path: Path) -> None:
    reg = _world(tmp_path, ", location: traffic/week.parquet")
    kept = registered_sample(reg, "prod")
    assert kept.path == (reg / "traffic" / "week.parquet").resolve()
    assert kept.sha256 == hashlib.sha256(SAMPLE).hexdigest()
    assert kept.to_json()["name"] == "retail-week"
    assert registered_sample(reg, "prod", "retail-week") == kept


def test_a_changed_sample_is_refused(tmp_path: Path) -> None:
    reg = _world(tmp_path, ", location: traffic/week.parquet")
    (reg / "traffic" / "week.parquet").write_bytes(SAMPLE + b"!")
    with pytest.raises(VerificationError) as caught:
        registered_sample(reg, "prod")
    assert caught.value.reason == "digest-mismatch"
    assert "is not the sample 'retail-week' registered for 'prod'" in str(caught.value)


@pytest.mark.parametrize(
    ("location", "env", "name", "message"),
    [
        ("", "prod", None, "no traffic sample of 'prod' is kept in the registry"),
        (", location: 'https://data.example/week.parquet'", "prod", None, "is kept"),
        (", location: ../outside.parquet", "prod", None, "is outside the registry"),
        (", location: .git/config", "prod", None, "is outside the registry"),
        (", location: traffic/week.parquet", "prod", "other", "no traffic sample named"),
        (", location: traffic/week.parquet", "dev", None, "no traffic sample of 'dev'"),
        (", location: traffic/week.parquet", "qa", None, "environment 'qa' is not in"),
    ],
)
def test_no_usable_sample_is_a_usage_error(
    tmp_path: Path, location: str, env: str, name: str | None, message: str
) -> None:
    reg = _world(tmp_path, location)
    (tmp_path / "outside.parquet").write_bytes(SAMPLE)
    with pytest.raises(UsageError, match=message):
        registered_sample(reg, env, name)
