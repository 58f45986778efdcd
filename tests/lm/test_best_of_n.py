"""lm/best_of_n.py: the analytic KL of best-of-n against an exact computation, and the
selection of the highest-scored sample."""

import math

import numpy as np
import pytest
import torch

from rlhf_from_scratch.lm.best_of_n import Samples, best_of_n_kl, sweep
from rlhf_from_scratch.utils.errors import ConfigError


@pytest.mark.parametrize("n", [1, 2, 4, 16])
def test_kl_of_best_of_n_matches_the_exact_kl_on_many_distinct_outcomes(n):
    # pi uniform over M outcomes with distinct rewards: best-of-n picks the k-th lowest with
    # probability (k/M)^n - ((k-1)/M)^n; its KL to pi tends to log n - (n-1)/n as M grows
    M = 200_000
    k = np.arange(1, M + 1, dtype=np.float64)
    p = (k / M) ** n - ((k - 1) / M) ** n
    exact = float(np.sum(p[p > 0] * np.log(p[p > 0] * M)))
    assert exact == pytest.approx(best_of_n_kl(n), abs=1e-3)
    assert best_of_n_kl(1) == 0.0 and best_of_n_kl(n) < math.log(n) + 1e-12


def test_best_of_n_keeps_the_highest_reward_model_score_among_the_first_n():
    samples = Samples(
        prompts=["a", "b"],
        responses=[["a0", "a1", "a2", "a3"], ["b0", "b1", "b2", "b3"]],
        rm_scores=torch.tensor([[0.0, 2.0, 1.0, 5.0], [3.0, 1.0, 4.0, 0.0]]),
        gold_scores=torch.tensor([[0.1, 0.2, 0.3, -1.0], [0.5, 0.6, 0.7, 0.8]]),
    )
    one = samples.best_of(1)
    assert one["rm_score"] == pytest.approx(1.5) and one["gold_reward"] == pytest.approx(0.3)
    assert one["win_rate"] == 0.5  # the first sample against itself
    two = samples.best_of(2)  # a1 (2.0) and b0 (3.0)
    assert two["rm_score"] == pytest.approx(2.5) and two["gold_reward"] == pytest.approx(0.35)
    four = samples.best_of(4)  # a3 (5.0, gold -1: the RM was wrong) and b2 (4.0)
    assert four["gold_reward"] == pytest.approx(-0.15)
    assert four["win_rate"] == 0.5  # a3 loses to a0, b2 beats b0
    assert four["kl_bound"] == pytest.approx(math.log(4) - 0.75)
    with pytest.raises(ConfigError):
        samples.best_of(5)
    assert samples.kept(2) == [("a", "a1"), ("b", "b0")]  # what expert iteration trains on


def test_sweep_is_powers_of_two_and_n():
    assert sweep(16) == [1, 2, 4, 8, 16] and sweep(6) == [1, 2, 4, 6] and sweep(1) == [1]
