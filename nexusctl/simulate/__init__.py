"""Simulation: replay recorded traffic under two policies, diff the decisions, gate the diff.

Public names: ``simulate`` and ``SimulationRequest`` (run.py), ``SimulationResult`` (the JSON
document, result.py), ``SimulationGates``, ``load_gates``, ``resolve_gates``,
``evaluate_gates`` (gates.py), the renderers ``render_json``, ``render_markdown``,
``render_html``, ``render_junit`` (report_*.py), and ``routing_diff_predicate`` with
``PREDICATE_TYPE`` (attest.py, the signed routing-diff attestation's predicate). Nothing here
imports pyarrow, NumPy or DuckDB at import time.
"""
