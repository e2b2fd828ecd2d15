"""Thin typer adapters: parse arguments, call the core, render the result. Nothing else."""
