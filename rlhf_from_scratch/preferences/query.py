"""Which pairs to ask about, and when (Christiano et al. 2017, section 2.2.4 and appendix A).

Query selection
    random        pairs of clips drawn uniformly from the recent pool
    disagreement  draw `oversample` times more candidate pairs than needed and keep those
                  whose predicted preference P_hat[s1 > s2] varies most across the ensemble
                  members (the paper calls this a crude approximation that sometimes hurts)

Label schedule
    A first batch of labels (25% of the budget) on clips of the untrained policy, then a rate
    that decays like c / (T + T0) in env steps T. Integrating the rate, the labels wanted by
    step T are

        L(T) = L0 + (B - L0) ln(1 + T / T0) / ln(1 + T_total / T0),

    so the whole budget B is used by the end of training.
"""

from __future__ import annotations

import math

import numpy as np

from rlhf_from_scratch.preferences.reward_model import RewardEnsemble
from rlhf_from_scratch.preferences.segments import Segment, SegmentPool
from rlhf_from_scratch.utils.errors import check

QUERY_METHODS = ("random", "disagreement")


def labels_wanted(
    step: int, budget: int, total_steps: int, initial_fraction: float = 0.25, t0: float = 2e6
) -> int:
    """L(T): how many labels should exist once `step` env steps have been taken."""
    initial = round(initial_fraction * budget)
    if step <= 0:
        return initial
    progress = math.log1p(min(step, total_steps) / t0) / math.log1p(total_steps / t0)
    return min(budget, initial + round((budget - initial) * progress))


def select_pairs(
    pool: SegmentPool,
    n: int,
    method: str,
    ensemble: RewardEnsemble | None = None,
    oversample: int = 10,
) -> list[tuple[Segment, Segment]]:
    """n pairs of clips to show the labeler."""
    check(method in QUERY_METHODS, f"query method must be one of {QUERY_METHODS}, got {method!r}")
    if method == "random" or ensemble is None or len(ensemble.members) < 2:
        return pool.random_pairs(n)
    candidates = pool.random_pairs(n * oversample)
    variance = ensemble.preference_probabilities(candidates).var(0).cpu().numpy()
    keep = np.argsort(-variance)[:n]
    return [candidates[i] for i in keep]
