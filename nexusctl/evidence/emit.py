"""``simulate --emit-evidence STORE KEY``: a simulate run's decisions as counterfactual evidence.

The candidate policy's decision for every replayed request becomes a counterfactual
DecisionRecord (``nexus.record.kind = counterfactual``, source ``simulate``), read from the
run's ``--decisions`` pairs file exactly as ``evidence ingest --format simulate`` reads it,
and appended to the store's counterfactual log, which is kept apart from the real one (its own
Merkle tree, checkpoints and DuckDB view): conformance and the report never read it.
"""

from __future__ import annotations

from pathlib import Path

from nexusctl.clock import SYSTEM_CLOCK, Clock
from nexusctl.errors import UsageError


def emit_counterfactuals(
    target: tuple[Path, Path], decisions: Path | None, clock: Clock = SYSTEM_CLOCK
) -> str:
    """Append the candidate side of ``decisions`` to the store ``target[0]``, signed by the
    note key ``target[1]``; return a one-line summary.

    Raises:
        UsageError: no ``--decisions`` file to read them from.
        InputError: not an evidence store, not the store's key, or an invalid record.
        ConflictError: another writer holds the store's lock.
    """
    from nexusctl.evidence.keys import load_signer
    from nexusctl.evidence.sources import read_simulate
    from nexusctl.evidence.store import ingest

    store, key = target
    if decisions is None:
        raise UsageError(
            "--emit-evidence needs --decisions FILE (the records are read from the pairs)"
        )
    signer = load_signer(key)
    table = read_simulate(decisions, "candidate", None)
    result = ingest(store, table, signer, "counterfactual", clock, str(decisions))
    return (
        f"counterfactual evidence -> {store}: appended {result.added} record(s), "
        f"{result.duplicates} already present; tree size {result.tree_size}"
    )
