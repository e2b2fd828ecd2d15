"""Speculative decoding economics (Leviathan, Kalman, Matias, ICML 2023, arXiv 2211.17192).

These are the paper's closed forms under its i.i.d. acceptance assumption. They are evaluated
once per deployment when a policy is compiled (``nexusctl.decode.factors``), never per request,
so the floating-point arithmetic here cannot make two engines disagree.
"""

from __future__ import annotations


def expected_tokens(alpha: float, gamma: int) -> float:
    """Return the expected tokens produced per target-model step, Eq. (1).

    ``E(alpha, gamma) = (1 - alpha^(gamma+1)) / (1 - alpha)``; ``gamma = 0`` gives exactly 1.
    """
    if gamma == 0:
        return 1.0
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def speedup(alpha: float, gamma: int, cost_ratio: float) -> float:
    """Return the expected walltime improvement factor, Theorem 3.8: ``E / (gamma*c + 1)``."""
    return expected_tokens(alpha, gamma) / (gamma * cost_ratio + 1.0)


def compute_overhead(alpha: float, gamma: int, cost_ratio: float) -> float:
    """Return the factor by which total arithmetic grows, Theorem 3.11.

    ``(1 - alpha)(gamma*c + gamma + 1) / (1 - alpha^(gamma+1))``, with the paper's op-count
    ratio c-hat approximated by the time ratio c (as in the research notes, §1.4).
    """
    if gamma == 0:
        return 1.0
    return (1.0 - alpha) * (gamma * cost_ratio + gamma + 1.0) / (1.0 - alpha ** (gamma + 1))


def best_draft_length(alpha: float, cost_ratio: float, max_gamma: int = 20) -> int:
    """Return the gamma in 1..max_gamma with the highest speed-up (ties: the smaller gamma).

    This is the latency-only optimum; the Latency Controller instead minimises cost under
    the SLO, which often prefers a shorter draft.
    """
    best = 1
    for gamma in range(2, max_gamma + 1):
        if speedup(alpha, gamma, cost_ratio) > speedup(alpha, best, cost_ratio):
            best = gamma
    return best
