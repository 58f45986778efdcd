"""REINFORCE (Williams 1992) with the lecture's three variance reductions.

Lecture: ../shared/seeds/002 (policy-gradient derivation, reward-to-go, discounting, baselines).

    grad J(theta) ~ sum_t  grad log pi_theta(a_t|s_t) (G - b)

    return_type "total":        G = sum_{t'} gamma^t' r_t'            (the whole episode's return)
    return_type "reward_to_go": G = G_t = sum_{t' >= t} gamma^(t'-t) r_t'   (causality)
    baseline "none":     b = 0
    baseline "constant": b = mean return over the batch
    baseline "value":    b = V_phi(s_t), fitted by regression on G_t with its own optimiser
    baseline "leave_one_out" (RLOO, Kool et al. 2019; Ahmadian et al. 2024): K samples share a
                         group (K responses to one prompt); b_i = mean of the other K - 1 returns,
                             b_i = (sum_j G_j - G_i) / (K - 1)
                         unbiased, and no value network at all

Only steps whose return is known enter the loss: an episode still running when the rollout
stops is masked out (or bootstrapped with V(s_T) when a value baseline exists).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlhf_from_scratch.algos.batch import Batch, Policy, masked_mean, normalize
from rlhf_from_scratch.algos.common import adam, check_finite, clip_grad_norm, value_loss
from rlhf_from_scratch.maths.returns import reward_to_go
from rlhf_from_scratch.utils.errors import check, check_positive, check_unit_interval

RETURN_TYPES = ("total", "reward_to_go")
BASELINES = ("none", "constant", "value", "leave_one_out")


@dataclass
class ReinforceConfig:
    lr: float = 3e-4  # Adam step size of the policy
    gamma: float = 0.99  # discount
    return_type: str = "reward_to_go"  # "reward_to_go" or "total" (the whole episode's return)
    baseline: str = "value"  # "value" (a learned V(s)), "constant", "leave_one_out" or "none"
    value_lr: float = 1e-3
    value_iters: int = 80  # full-batch regression steps on V per update (Spinning Up's VPG)
    normalize_advantages: bool = False
    max_grad_norm: float | None = None

    def validate(self) -> None:
        check_unit_interval("gamma", self.gamma)
        check_positive("lr", self.lr)
        check(self.return_type in RETURN_TYPES, f"return_type must be one of {RETURN_TYPES}")
        check(self.baseline in BASELINES, f"baseline must be one of {BASELINES}")
        check_positive("value_lr", self.value_lr)


def episode_total_return(
    rtg: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor
) -> torch.Tensor:
    """Broadcast each episode's return from its first step, G_0, to all its steps ([T, N])."""
    done = torch.maximum(terminated, truncated)
    total = torch.empty_like(rtg)
    start = rtg[0]
    for t in range(rtg.shape[0]):
        if t > 0:
            start = torch.where(done[t - 1] > 0, rtg[t], start)
        total[t] = start
    return total


def leave_one_out_baseline(returns: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
    """b_i = (sum_{j in group(i)} G_j - G_i) / (K - 1), per time step [T, N]."""
    check(groups is not None, "the leave_one_out baseline needs groups (K samples per prompt)")
    groups = torch.as_tensor(groups, device=returns.device)
    onehot = (groups.unsqueeze(0) == groups.unique().unsqueeze(1)).to(returns.dtype)  # [G, N]
    sizes = onehot.sum(1) @ onehot  # K of each column's group, [N]
    check(
        bool((sizes >= 2).all()),
        "every group needs at least 2 samples for a leave-one-out baseline",
    )
    group_sums = (returns @ onehot.T) @ onehot  # sum over each column's group, [T, N]
    return (group_sums - returns) / (sizes - 1)


class Reinforce:
    def __init__(self, policy: Policy, config: ReinforceConfig, total_updates: int | None = None):
        config.validate()
        self.policy, self.config = policy, config
        self.policy_params = list(policy.policy_parameters())
        self.optimizer = adam(self.policy_params, lr=config.lr)
        self.value_optimizer = None
        if config.baseline == "value":
            check(
                not policy.shared,
                "REINFORCE with baseline 'value' fits V on its own: it needs a separate value "
                "network (shared=False)",
            )
            value_params = list(policy.value_parameters())
            self.value_optimizer = adam(value_params, lr=config.value_lr)
        self.updates = 0

    def estimate(self, rewards, values, terminated, truncated, groups=None):
        """(G - b, G_t, known): the weights of grad log pi, the value targets, and which steps count.

        groups [N]: which columns are samples for the same prompt (leave-one-out baseline only).
        """
        c = self.config
        use_values = values if c.baseline == "value" else None
        rtg, known = reward_to_go(rewards, terminated, truncated, c.gamma, use_values)
        weight = (
            rtg
            if c.return_type == "reward_to_go"
            else episode_total_return(rtg, terminated, truncated)
        )
        if c.baseline == "constant":
            weight = weight - masked_mean(weight, known)
        elif c.baseline == "value":
            weight = weight - values[:-1]
        elif c.baseline == "leave_one_out":
            weight = weight - leave_one_out_baseline(weight, groups)
        return weight, rtg, known

    def update(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, float]:
        c = self.config
        dist = self.policy.distribution(batch)
        logp = dist.log_prob(batch.actions)
        adv = (
            normalize(batch.advantages, batch.mask) if c.normalize_advantages else batch.advantages
        )
        policy_loss = -masked_mean(logp * adv, batch.mask)
        check_finite("REINFORCE loss", policy_loss)
        self.optimizer.zero_grad()
        policy_loss.backward()
        if c.max_grad_norm is not None:
            clip_grad_norm(self.policy_params, c.max_grad_norm)
        self.optimizer.step()
        metrics = {
            "policy_loss": policy_loss.item(),
            "entropy": float(masked_mean(dist.entropy().detach(), batch.mask)),
        }
        if self.value_optimizer is not None:
            for _ in range(c.value_iters):
                v_loss = value_loss(self.policy.value(batch), batch.returns, batch.mask)
                self.value_optimizer.zero_grad()
                v_loss.backward()
                self.value_optimizer.step()
            check_finite("REINFORCE value loss", v_loss)
            metrics["value_loss"] = v_loss.item()
        self.updates += 1
        return metrics

    def state_dict(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "updates": self.updates}
        if self.value_optimizer is not None:
            state["value_optimizer"] = self.value_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.value_optimizer is not None:
            self.value_optimizer.load_state_dict(state["value_optimizer"])
        self.updates = state["updates"]
