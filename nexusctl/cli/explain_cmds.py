"""Commands (filled in by the capability that owns them)."""
