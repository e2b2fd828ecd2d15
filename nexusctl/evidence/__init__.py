"""The evidence plane: a tamper-evident, append-only record of routing decisions.

Decision records live in Parquet segments; an RFC 6962 Merkle tree over them is stored as
C2SP tlog-tiles and committed by C2SP signed checkpoints. See docs/evidence.md.
"""
