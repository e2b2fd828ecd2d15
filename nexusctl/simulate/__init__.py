"""Simulation: replay recorded traffic under two policies, diff the decisions, gate the diff.

Public names: ``simulate`` and ``SimulationRequest`` (run.py), ``run_job``,
``file_attestation`` and ``check_verdict`` (job.py: one CLI invocation, bundle folders
resolved, the attestation filed), ``SimulationResult`` (the JSON document,
result.py), ``SimulationGates``, ``load_gates``, ``resolve_gates``, ``evaluate_gates``
(gates.py), the reports (``reports``: ``ReportFormat``, ``render``, ``terminal_view``), and
``routing_diff_predicate`` with ``PREDICATE_TYPE`` (attest.py, the signed routing-diff
attestation's predicate), ``DiffAggregate``, ``fold_batch``, ``TrafficFold``, ``UrlTrafficFold``,
``FoldJob``, ``pair_schema`` and ``pairs_writer`` (aggregate.py: the diff's mergeable
aggregates and the decisions file, for an engine that folds partitions elsewhere, such as
``nexusctl.spark``). The replay engine it drives is ``nexusctl.replay.ReplayEngine``.
Private: ``_pairs`` (the streamed pass over the traffic), ``_streams`` (fan-out, alignment,
prefetch), ``_accumulate`` with ``_side``, ``_quality``, ``_money`` and ``_codes`` (the
diff, folded batch by batch), ``_latency`` (histogram percentiles). Nothing here imports
pyarrow, NumPy or DuckDB at import time.
"""
