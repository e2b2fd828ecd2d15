"""Scaffolds: new documents written against what already exists (``policy init``)."""

from nexusctl.scaffold.policy import Scaffold, ScaffoldOptions, render_policy, scaffold_policy

__all__ = ["Scaffold", "ScaffoldOptions", "render_policy", "scaffold_policy"]
