"""Replay recorded traffic through a policy, vectorised (contract C), and reprice decisions.

``replay`` streams decisions batch by batch (bounded memory); ``reprice`` prices the same
deployment, draft length and load under another catalog; ``arrivals_load`` is the one
definition of load (contract B); ``count_below`` is the few-edges bucketing both engines and
simulate's histograms use. The scalar router (nexusctl.router.route) is the reference
this engine agrees with exactly. ``ReplayEngine`` is the interface simulate drives (every
method required), ``RouterReplay`` this package's engine behind it. Design notes: docs/replay.md.
"""

from nexusctl.replay._engine import count_below
from nexusctl.replay.engine import Batch, ReplayEngine, RouterReplay
from nexusctl.replay.load import arrivals_load
from nexusctl.replay.schema import decision_schema, dictionary_decision_schema
from nexusctl.replay.stream import DEFAULT_BATCH_ROWS, replay, replay_many, reprice

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "Batch",
    "ReplayEngine",
    "RouterReplay",
    "arrivals_load",
    "count_below",
    "decision_schema",
    "dictionary_decision_schema",
    "replay",
    "replay_many",
    "reprice",
]
