"""nexusctl: govern LLM RoutingPolicy bundles from lint to signed promotion and evidence."""

__version__ = "0.1.0"
