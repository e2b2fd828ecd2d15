"""``registry sample``: the traffic sample an environment registers, kept in the registry.

A RegistryConfig registers each environment's traffic samples by SHA-256
(``trafficSamples``); a sample whose ``location`` is a path in the registry is kept there.
This finds that file for one environment and checks it against the registered digest before
anyone replays it: the pull-request gate simulates on exactly the traffic a promotion's
simulation gate will accept. A sample kept elsewhere (a URL, or no location) is not fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nexusctl.errors import UsageError, VerificationError


@dataclass(frozen=True)
class KeptSample:
    """A registered traffic sample found in the registry, its digest checked."""

    environment: str
    name: str
    sha256: str
    path: Path

    def to_json(self) -> dict[str, object]:
        """Return the JSON form (``path`` absolute)."""
        return {
            "environment": self.environment,
            "name": self.name,
            "sha256": self.sha256,
            "path": str(self.path),
        }


def registered_sample(root: Path, env: str, name: str | None = None) -> KeptSample:
    """Return ``env``'s registered sample kept in the registry at ``root`` (``name``: that one).

    Without ``name``, the first registered sample that has a location in the registry.

    Raises:
        UsageError: no such environment, no such sample, or none kept in the registry.
        InputError: not a registry, or the sample's file is not a readable regular file.
        VerificationError: ``digest-mismatch``: the file is not the registered sample.
    """
    from nexusctl.files import sha256_file
    from nexusctl.registry._context import Registry
    from nexusctl.statements.reasons import Reason

    reg = Registry.open(root)
    environment = reg.cfg.environment(env)
    samples = environment.traffic_samples
    if name is not None:
        samples = [s for s in samples if s.name == name]
        if not samples:
            raise UsageError(
                f"'{env}' registers no traffic sample named '{name}'",
                hint="registered: "
                + (", ".join(s.name for s in environment.traffic_samples) or "none"),
            )
    base = reg.store.root.resolve()
    for sample in samples:
        if sample.location is None or "://" in sample.location:
            continue
        path = (reg.store.root / sample.location).resolve()
        if not path.is_relative_to(base) or path.is_relative_to(base / ".git"):
            raise UsageError(
                f"traffic sample '{sample.name}' of '{env}': location '{sample.location}' is "
                "outside the registry"
            )
        actual = sha256_file(path, what=f"traffic sample '{sample.name}'")
        if actual != sample.sha256:
            raise VerificationError(
                f"{path}: sha256 {actual} is not the sample '{sample.name}' registered for "
                f"'{env}' ({sample.sha256})",
                reason=Reason.DIGEST_MISMATCH,
                hint="the file was changed after it was registered; register its new digest "
                "with a config change, or restore it",
            )
        return KeptSample(env, sample.name, sample.sha256, path)
    raise UsageError(
        f"no traffic sample of '{env}' is kept in the registry",
        hint="register one with a location in the registry (trafficSamples[].location), "
        "or give the sample's file",
    )
