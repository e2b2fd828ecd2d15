"""Recorded LLM traffic: the canonical table, importers, enrichment, quality labels, synth.

Public names (import them from their modules; this package imports nothing heavy):
``schema.traffic_schema``, ``schema.validate_table``, ``synth.synth_table``,
``synth.synth_batches``, ``importers.import_traffic``, ``enrich.EnrichmentSpec``,
``inspect.inspect_traffic``.
"""
