"""Advantage actor-critic, synchronous (A2C; Mnih et al. 2016, OpenAI Baselines).

Lectures: ../shared/seeds/002 (actor-critic, advantage) and 004 (A2C with a learned reward).

    grad J(theta) = E[ grad log pi_theta(a_t|s_t) A(s_t, a_t) ]
    A_t           = n-step (or GAE) advantage from V_phi over a short rollout of N envs
    loss          = -E[log pi(a|s) A] + c1 1/2 (V(s) - R)^2 - c2 H[pi]

One gradient step per rollout: A2C is PPO with one epoch, one minibatch and no clipping
(Huang et al. 2022), but it is written out here so the paper's update reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlhf_from_scratch.algos.batch import Batch, Policy, masked_mean, normalize
from rlhf_from_scratch.algos.common import (
    adam,
    annealed,
    check_common,
    check_finite,
    clip_grad_norm,
    gae_estimate,
    set_lr,
    value_loss,
)
from rlhf_from_scratch.utils.errors import check, check_positive


@dataclass
class A2CConfig:
    lr: float = 7e-4  # step size of the optimizer
    anneal_lr: bool = True  # lr linearly to 0 over the run
    gamma: float = 0.99  # discount
    lam: float = 1.0  # 1.0 = plain n-step returns, as in the paper
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    optimizer: str = "rmsprop"  # "rmsprop" (alpha 0.99, eps 1e-5, as Baselines) or "adam"
    normalize_advantages: bool = False

    def validate(self) -> None:
        check_common(self.gamma, self.lam, self.lr)
        check(self.optimizer in ("rmsprop", "adam"), "optimizer must be 'rmsprop' or 'adam'")
        check_positive("max_grad_norm", self.max_grad_norm)


class A2C:
    def __init__(self, policy: Policy, config: A2CConfig, total_updates: int | None = None):
        config.validate()
        self.policy, self.config, self.total_updates = policy, config, total_updates
        self.parameters = list(policy.policy_parameters()) + list(policy.value_parameters())
        if config.optimizer == "rmsprop":
            self.optimizer = torch.optim.RMSprop(
                self.parameters, lr=config.lr, alpha=0.99, eps=1e-5
            )
        else:
            self.optimizer = adam(self.parameters, lr=config.lr, eps=1e-5)
        self.updates = 0

    def estimate(self, rewards, values, terminated, truncated, groups=None):
        return gae_estimate(
            rewards, values, terminated, truncated, self.config.gamma, self.config.lam
        )

    def update(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, float]:
        c = self.config
        lr = annealed(c.lr, self.updates, self.total_updates, c.anneal_lr)
        set_lr(self.optimizer, lr)
        dist = self.policy.distribution(batch)
        logp = dist.log_prob(batch.actions)
        adv = (
            normalize(batch.advantages, batch.mask) if c.normalize_advantages else batch.advantages
        )
        policy_loss = -masked_mean(logp * adv, batch.mask)
        v_loss = value_loss(self.policy.value(batch), batch.returns, batch.mask)
        entropy = masked_mean(dist.entropy(), batch.mask)
        loss = policy_loss + c.vf_coef * v_loss - c.ent_coef * entropy
        check_finite("A2C loss", loss)
        self.optimizer.zero_grad()
        loss.backward()
        gnorm = clip_grad_norm(self.parameters, c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return {
            "policy_loss": policy_loss.item(),
            "value_loss": v_loss.item(),
            "entropy": entropy.item(),
            "grad_norm": float(gnorm),
            "lr": lr,
        }

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = state["updates"]
