"""Behaviour cloning: supervised learning of pi(a|s) from a demonstrator's (s, a) pairs.

Lecture 004 ("IRL and behaviour cloning vs RLHF"): given D = {(s_1, a_1), ..., (s_n, a_n)},

    L_BC(theta) = -E_{(s, a) ~ D} [ log pi_theta(a | s) ]

No reward and no return: the policy copies the demonstrator's actions, directly. The lecture's
problems with it: it knows only the states the demonstrator visited, and nothing corrects an
error that takes it elsewhere, so errors compound over an episode (notebook 000 measures both).
SFT on demonstrations (lm/sft.py) is the same loss on the tokens of a response.

Like the policy-gradient algorithms it reads a `Batch` (obs, actions, mask; the other fields are
unused) and talks to the policy through `policy.distribution(batch)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlhf_from_scratch.algos.batch import Batch, Policy, masked_mean
from rlhf_from_scratch.algos.common import adam, check_finite
from rlhf_from_scratch.utils.errors import check_positive


@dataclass
class BCConfig:
    # On 1000 CartPole states of a demonstrator, 100 epochs at 3e-3 balanced for 500 steps on
    # every evaluation episode; 20 epochs at 1e-3 matched 75% of its actions and fell within
    # 61-239 steps (measured while writing this; notebook 000 section 6)
    lr: float = 3e-3
    epochs: int = 100
    n_minibatches: int = 4

    def validate(self) -> None:
        check_positive("lr", self.lr)
        check_positive("epochs", self.epochs)
        check_positive("n_minibatches", self.n_minibatches)


def demonstration_batch(obs: torch.Tensor, actions: torch.Tensor) -> Batch:
    """A `Batch` of demonstrations: only obs and actions mean anything; every row is real."""
    n = actions.shape[0]
    zeros = torch.zeros(n, dtype=torch.float32, device=actions.device)
    return Batch(obs, actions, zeros, zeros, zeros, zeros, torch.ones_like(zeros))


class BehaviourCloning:
    """Maximum likelihood of the demonstrated actions; `update(batch)` runs the epochs."""

    def __init__(self, policy: Policy, config: BCConfig):
        config.validate()
        self.policy, self.config = policy, config
        self.optimizer = adam(list(policy.policy_parameters()), lr=config.lr)

    def loss(self, mb: Batch) -> torch.Tensor:
        """L_BC = -mean log pi(a|s) over the real rows."""
        return -masked_mean(self.policy.distribution(mb).log_prob(mb.actions), mb.mask)

    def update(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, float]:
        losses = []
        for _epoch in range(self.config.epochs):
            for mb in batch.minibatches(self.config.n_minibatches, generator):
                loss = self.loss(mb)
                check_finite("behaviour-cloning loss", loss)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.detach())
        return {"bc_loss": torch.stack(losses[-self.config.n_minibatches :]).mean().item()}
