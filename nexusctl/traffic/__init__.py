"""Recorded LLM traffic: the canonical table, importers, enrichment, quality labels, synth.

Public names (import them from their modules; this package imports nothing heavy):
``schema.TRAFFIC`` (the one declaration of the table), ``schema.traffic_schema``,
``schema.validate_rows``, ``schema.validate_table``, ``schema.require_valid`` (the check every
reader applies), ``parquet.open_traffic_parquet`` and ``parquet.traffic_batches`` (footer-capped,
batched reads), ``synth.synth_table``, ``synth.synth_batches``, ``importers.import_traffic``,
``enrich.EnrichmentSpec``, ``draw.enrich_columns``, ``inspect.inspect_traffic``.
"""
