"""A tiny categorical policy (with a separate value net) and batches drawn from it."""

import pytest
import torch
from torch import nn
from torch.distributions import Categorical

from rlhf_from_scratch.algos.batch import Batch


class TinyPolicy(nn.Module):
    """A 2-layer categorical policy with a separate value net: small enough for a dense Hessian."""

    shared = False

    def __init__(self):
        super().__init__()
        self.pi = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
        self.v = nn.Linear(3, 1).double()

    def distribution(self, batch):
        return Categorical(logits=self.pi(batch.obs))

    def value(self, batch):
        return self.v(batch.obs).squeeze(-1)

    def policy_parameters(self):
        return list(self.pi.parameters())

    def value_parameters(self):
        return list(self.v.parameters())


def make_batch(policy, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        dist = Categorical(logits=policy.pi(obs))
        actions = dist.sample()
        logp = dist.log_prob(actions)
    return Batch(
        obs=obs,
        actions=actions,
        logp_old=logp,
        advantages=torch.randn(n, generator=g, dtype=torch.float64),
        returns=torch.randn(n, generator=g, dtype=torch.float64),
        values_old=torch.zeros(n, dtype=torch.float64),
        mask=torch.ones(n, dtype=torch.float64),
    )


@pytest.fixture
def tiny():
    """(TinyPolicy, make_batch): the policy class and a batch sampler for algorithm tests."""
    torch.manual_seed(0)
    return TinyPolicy, make_batch
