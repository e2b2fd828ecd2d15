"""Which policy each recorded decision was made under: an explicit one, or the registry's.

With a registry, the policy of a decision is the bundle that was live, in the decision's
environment, under the decision's policy name, at the decision's time: the last ``promote``
or ``rollback`` record for that (environment, name) at or before that time, read from the
registry's record log (``nexusctl.registry.query.history``, which reads what the clone holds;
``registry verify`` proves the log itself). The bundle is loaded from the registry's bundle
store (``bundles/<hex>/``, docs/registry.md) after every file is checked against its manifest.

A decision that names no policy takes the one name ever live in its environment; when several
were, it is ambiguous and counted as not checkable, never guessed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from nexusctl.errors import InputError

if TYPE_CHECKING:
    from nexusctl.policy.loader import LoadedPolicy

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: The registry's bundle store, relative to its root (docs/registry.md, "Layout").
BUNDLES_DIR = "bundles"


@dataclass(frozen=True)
class PolicyVersion:
    """A policy decisions are checked against, and where it came from."""

    name: str
    version: int
    digest: str | None
    source: str
    #: The environment it was live in (registry), None for an explicit policy.
    environment: str | None = None

    def label(self) -> str:
        """``name@version`` with the digest's first 12 hex digits when known."""
        short = f" ({self.digest[7:19]})" if self.digest else ""
        return f"{self.name}@{self.version}{short}"


def load_policy_path(path: Path) -> tuple[PolicyVersion, LoadedPolicy]:
    """Load a policy file or a bundle folder (checked against its manifest first).

    Raises:
        PolicyLoadError: the policy or its catalog does not load.
        VerificationError: a bundle's files do not match its manifest.
    """
    from nexusctl.policy import load_policy

    digest = None
    policy_path = path
    if path.is_dir():
        from nexusctl.bundle import bundled_policy

        policy_path, tree = bundled_policy(path)
        digest = tree.digest
    loaded = load_policy(policy_path)
    meta = loaded.policy.metadata
    return PolicyVersion(meta.name, meta.version, digest, str(path)), loaded


@dataclass(frozen=True)
class LiveSpan:
    """A bundle made live in an environment by one registry record, from ``since_us`` on."""

    environment: str
    name: str
    version: int
    digest: str
    since_us: int
    record: dict[str, Any]


@dataclass
class RegistryTimeline:
    """What was live where and when, from a registry's record log."""

    root: Path
    records: list[dict[str, Any]]
    #: (environment, name) -> spans in log order (their times never go backwards).
    spans: dict[tuple[str, str], list[LiveSpan]] = field(default_factory=dict)
    _loaded: dict[str, LoadedPolicy] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path) -> RegistryTimeline:
        """Read the registry's record log.

        Raises:
            InputError: not a registry.
            VerificationError: a malformed record.
        """
        from nexusctl.registry.query import history

        records = cast("list[dict[str, Any]]", history(root)["records"])
        timeline = cls(root, records)
        for record in records:
            bundle = record.get("bundle")
            if record.get("event") not in ("promote", "rollback") or not bundle:
                continue
            env = str(record.get("environment") or "")
            span = LiveSpan(
                env,
                bundle["name"],
                int(bundle["version"]),
                bundle["digest"],
                _micros(str(record["time"])),
                record,
            )
            timeline.spans.setdefault((env, span.name), []).append(span)
        return timeline

    def names_in(self, environment: str) -> list[str]:
        """Every policy name ever live in ``environment``, sorted."""
        return sorted(name for env, name in self.spans if env == environment)

    def loaded(self, digest: str) -> LoadedPolicy:
        """Load the stored bundle ``digest`` (checked against its manifest; cached).

        Raises:
            InputError: the bundle is not in the registry's bundle store.
            VerificationError: its files do not match its manifest.
            PolicyLoadError: its policy or catalog does not load.
        """
        if digest not in self._loaded:
            folder = self.root / BUNDLES_DIR / digest.removeprefix("sha256:")
            if not folder.is_dir():
                raise InputError(f"{self.root}: bundle {digest} is not in the registry's store")
            self._loaded[digest] = load_policy_path(folder)[1]
        return self._loaded[digest]

    def loaded_policies(self) -> list[LoadedPolicy]:
        """The bundles loaded so far (by ``loaded``), in load order."""
        return list(self._loaded.values())

    def approvers(self) -> dict[str, str]:
        """Approve record digest -> the key id that signed it."""
        return {
            str(r["record_digest"]): str(r["actor"])
            for r in self.records
            if r.get("event") == "approve"
        }

    def promotions(
        self, environment: str, name: str, digest: str | None, version: int | None
    ) -> list[LiveSpan]:
        """Every span that made this bundle (by digest, else by version) live (log order)."""
        return [
            span
            for span in self.spans.get((environment, name), [])
            if (digest is not None and span.digest == digest)
            or (digest is None and version is not None and span.version == version)
        ]


def _micros(text: str) -> int:
    from nexusctl.clock import parse_rfc3339

    # Integer division of timedeltas: exact at microsecond resolution (a float timestamp is not).
    return (parse_rfc3339(text) - _EPOCH) // dt.timedelta(microseconds=1)
