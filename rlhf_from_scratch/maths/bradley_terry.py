"""The Bradley-Terry model of pairwise preferences, and the reward-model losses built on it.

Lecture 003 eq. (1): a person prefers b_i to b_j with probability

    P(b_i > b_j) = exp(r(b_i)) / (exp(r(b_i)) + exp(r(b_j))) = sigma(r(b_i) - r(b_j)).

Only differences of rewards matter: adding a constant to every reward changes no preference
(shift invariance), multiplying them does (scale sensitivity) -- the quiz of lecture 003.
Lecture 004 (Christiano et al. 2017) sums the reward over a segment's steps before comparing.
Lecture 000 writes the loss with a label mu (the fraction of "first is better"); lecture 001
(InstructGPT) averages it over the K choose 2 pairs of a ranking of K responses.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F


def preference_probability(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """P[y1 > y2] = exp(r1) / (exp(r1) + exp(r2)) = sigma(r1 - r2)   (lecture 003 eq. 1)."""
    return torch.sigmoid(r1 - r2)


def bradley_terry_loss(
    r1: torch.Tensor, r2: torch.Tensor, mu: torch.Tensor | float = 1.0, eps: float = 0.0
) -> torch.Tensor:
    """Mean negative log-likelihood of labels mu under Bradley-Terry (lectures 000, 004):

        loss = -mean[ mu log P + (1 - mu) log(1 - P) ],   P = eps/2 + (1 - eps) sigma(r1 - r2)

    mu = 1: the first is better, 0: the second, 0.5: a tie. eps is the probability that the
    human answered at random (Christiano et al. use eps = 0.1), which bounds the loss of one
    wrong label; eps = 0 is the plain model, computed with logsigmoid for stability.
    """
    mu = torch.as_tensor(mu, dtype=r1.dtype, device=r1.device)
    d = r1 - r2
    if eps == 0.0:
        log_p, log_not_p = F.logsigmoid(d), F.logsigmoid(-d)
    else:
        p = eps / 2 + (1 - eps) * torch.sigmoid(d)
        log_p, log_not_p = torch.log(p), torch.log1p(-p)
    return -(mu * log_p + (1 - mu) * log_not_p).mean()


def ranking_to_pairs(ranking: list[int]) -> list[tuple[int, int]]:
    """All K choose 2 (winner, loser) pairs of a ranking listed best first (lecture 001)."""
    return [(ranking[i], ranking[j]) for i, j in itertools.combinations(range(len(ranking)), 2)]


def kwise_ranking_loss(rewards: torch.Tensor, ranks: torch.Tensor | None = None) -> torch.Tensor:
    """InstructGPT's reward-model loss over rankings of K responses (lecture 001):

        loss(theta) = -1/(K choose 2) E_(x, y_w, y_l) [ log sigma(r(x, y_w) - r(x, y_l)) ]

    rewards [B, K]: the reward of each of the K responses to B prompts. ranks [B, K]: the
    rank of each response (0 = best; equal ranks are ties, mu = 0.5); by default the columns
    are already in order, best first. Every prompt's K choose 2 pairs weigh the same.
    """
    B, K = rewards.shape
    if ranks is None:
        ranks = torch.arange(K, device=rewards.device).expand(B, K)
    i, j = torch.combinations(torch.arange(K, device=rewards.device), r=2).unbind(-1)
    mu = (ranks[:, i] < ranks[:, j]).to(rewards.dtype) + 0.5 * (ranks[:, i] == ranks[:, j])
    return bradley_terry_loss(rewards[:, i], rewards[:, j], mu)
