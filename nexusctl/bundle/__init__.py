"""Content-addressed policy bundles: build one, and check one against its manifest."""

from nexusctl.bundle._build import BuiltBundle, BundleTree, build_bundle, bundled_policy, check_tree
from nexusctl.bundle._manifest import (
    ATTESTATIONS_DIR,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleManifest,
    ManifestFile,
    model_signing_order,
)

__all__ = [
    "ATTESTATIONS_DIR",
    "MANIFEST_NAME",
    "SIGNATURE_NAME",
    "BuiltBundle",
    "BundleManifest",
    "BundleTree",
    "ManifestFile",
    "build_bundle",
    "bundled_policy",
    "check_tree",
    "model_signing_order",
]
