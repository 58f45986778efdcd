"""A tiny categorical actor-critic and batches drawn from it (small enough for dense Hessians).

Used where an algorithm is checked on its own, without an environment: the tests of the
algorithms and the assignments' autograder.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Categorical

from rlhf_from_scratch.algos.batch import Batch


class TinyPolicy(nn.Module):
    """obs_dim -> hidden (tanh) -> n_actions logits, and a separate linear value, in float64."""

    shared = False

    def __init__(self, obs_dim: int = 3, hidden: int = 4, n_actions: int = 2):
        super().__init__()
        self.pi = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, n_actions)
        ).double()
        self.v = nn.Linear(obs_dim, 1).double()

    def distribution(self, batch: Batch) -> Categorical:
        return Categorical(logits=self.pi(batch.obs))

    def value(self, batch: Batch) -> torch.Tensor:
        return self.v(batch.obs).squeeze(-1)

    def policy_parameters(self) -> list[nn.Parameter]:
        return list(self.pi.parameters())

    def value_parameters(self) -> list[nn.Parameter]:
        return list(self.v.parameters())


def tiny_batch(
    policy: TinyPolicy,
    n: int = 64,
    seed: int = 0,
    logp_noise: float = 0.0,
    padding: int = 0,
    random_values: bool = False,
) -> Batch:
    """n actions sampled from the policy, with random advantages and returns.

    logp_noise moves logp_old by that much Gaussian noise (so that the ratios pi / pi_old leave
    1); the last `padding` rows get mask 0; values_old are random, or zeros.
    """
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, policy.pi[0].in_features, generator=g, dtype=torch.float64)
    with torch.no_grad():
        dist = Categorical(logits=policy.pi(obs))
        actions = dist.sample()
        logp = dist.log_prob(actions)
    if logp_noise:
        logp = logp + logp_noise * torch.randn(n, generator=g, dtype=torch.float64)
    mask = torch.ones(n, dtype=torch.float64)
    if padding:
        mask[-padding:] = 0.0
    advantages = torch.randn(n, generator=g, dtype=torch.float64)
    returns = torch.randn(n, generator=g, dtype=torch.float64)
    values = torch.randn(n, generator=g, dtype=torch.float64) if random_values else None
    return Batch(
        obs=obs,
        actions=actions,
        logp_old=logp,
        advantages=advantages,
        returns=returns,
        values_old=values if values is not None else torch.zeros(n, dtype=torch.float64),
        mask=mask,
    )
