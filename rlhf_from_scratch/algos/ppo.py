"""Proximal Policy Optimisation (Schulman et al. 2017), clipped and KL-penalty variants.

Lectures: ../shared/seeds/001 (PPO loss = policy + c1 value + c2 entropy, GAE) and 002 (PPO).

    r_t(theta)  = pi_theta(a_t|s_t) / pi_theta_old(a_t|s_t)
    L^CLIP      = E_t[ min( r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t ) ]
    L^KLPEN     = E_t[ r_t A_t - beta KL[pi_old, pi_theta] ]   (beta adapted toward a target KL)
    loss        = -L^POLICY + c1 L^VF - c2 H[pi_theta]   (c2 constant, or annealed to 0 like the lr)

Pseudocode (per update):
    A, R = GAE(rewards, V_old)
    for epoch in 1..K:
        for minibatch in shuffled(batch):
            compute loss, one Adam step (grad-norm clipped)
        stop early if approx_kl > target_kl
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from rlhf_from_scratch.algos.batch import Batch, Policy, masked_mean, normalize
from rlhf_from_scratch.algos.common import (
    adam,
    annealed,
    check_common,
    check_finite,
    compiled,
    gae_estimate,
    set_lr,
    value_loss,
)
from rlhf_from_scratch.maths.kl import kl_k3
from rlhf_from_scratch.utils.errors import check, check_positive


@dataclass
class PPOConfig:
    lr: float = 3e-4  # Adam step size
    anneal_lr: bool = True  # lr linearly to 0 over the run
    gamma: float = 0.99  # discount
    lam: float = 0.95
    n_epochs: int = 10  # passes over each batch
    n_minibatches: int = 32  # minibatches per pass
    variant: str = "clip"  # "clip" or "kl" (the adaptive KL-penalty variant)
    clip: float = 0.2  # epsilon of the clipped ratio, 1 +- epsilon
    kl_beta: float = 1.0  # initial beta of the KL-penalty variant
    kl_target: float = 0.01  # d_targ of the KL-penalty variant
    vf_coef: float = 0.5  # c1
    ent_coef: float = 0.0  # c2
    anneal_ent_coef: bool = False  # c2 linearly to 0 over the run, like the lr
    clip_value: bool = False  # clip the value update like the ratio
    max_grad_norm: float = 0.5  # the joint policy and value gradient clipped to this norm
    normalize_advantages: bool = True  # advantages to zero mean, unit std per minibatch
    target_kl: float | None = None  # early stop of the epochs (None: never)
    adam_eps: float = 1e-5  # Adam's epsilon (1e-5 in OpenAI Baselines' PPO, not torch's 1e-8)
    compile: bool = False  # torch.compile the loss (see algos.common.compiled)

    def validate(self) -> None:
        check_common(self.gamma, self.lam, self.lr)
        check(
            self.variant in ("clip", "kl"), f"variant must be 'clip' or 'kl', got {self.variant!r}"
        )
        check_positive("clip", self.clip)
        check_positive("n_epochs", self.n_epochs)
        check_positive("n_minibatches", self.n_minibatches)
        check_positive("max_grad_norm", self.max_grad_norm)
        check(self.vf_coef >= 0, f"vf_coef must be >= 0, got {self.vf_coef}")
        check(self.target_kl is None or self.target_kl > 0, "target_kl must be > 0 (or None)")


class PPO:
    """PPO over any policy with the `Policy` interface; one `update(batch)` per rollout."""

    def __init__(
        self,
        policy: Policy,
        config: PPOConfig,
        total_updates: int | None = None,
        extra_loss: Callable[[], torch.Tensor] | None = None,
    ):
        """extra_loss: a term added to every minibatch's loss, e.g. PPO-ptx's
        -gamma E_pretrain[log pi(x)] (InstructGPT): the algorithm does not need to know what."""
        config.validate()
        self.policy, self.config, self.total_updates = policy, config, total_updates
        self.extra_loss = extra_loss
        params = list(policy.policy_parameters()) + list(policy.value_parameters())
        self.parameters = params
        self.optimizer = adam(params, lr=config.lr, eps=config.adam_eps)
        self.beta = config.kl_beta
        self.updates = 0
        # c2 as a tensor, set in place before each update: the compiled loss reads it as an
        # input, so annealing it does not recompile the loss.
        self.ent_coef = torch.tensor(float(config.ent_coef), device=params[0].device)
        self.compiled_loss = compiled(self.loss, config.compile)

    def estimate(self, rewards, values, terminated, truncated, groups=None):
        """Advantages, value targets and a known-mask from time-major rewards (GAE).

        `groups` (a group id per column, e.g. the prompt of each response) is unused here;
        REINFORCE's leave-one-out baseline needs it.
        """
        return gae_estimate(
            rewards, values, terminated, truncated, self.config.gamma, self.config.lam
        )

    def loss(self, mb: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The PPO loss on one minibatch, and the quantities worth logging."""
        c = self.config
        dist = self.policy.distribution(mb)
        logp = dist.log_prob(mb.actions)
        ratio = (logp - mb.logp_old).exp()
        adv = normalize(mb.advantages, mb.mask) if c.normalize_advantages else mb.advantages
        if c.variant == "clip":
            surrogate = torch.min(ratio * adv, ratio.clamp(1 - c.clip, 1 + c.clip) * adv)
            policy_loss = -masked_mean(surrogate, mb.mask)
        else:
            kl = masked_mean(kl_k3(logp, mb.logp_old), mb.mask)
            policy_loss = -masked_mean(ratio * adv, mb.mask) + self.beta * kl
        v_loss = value_loss(
            self.policy.value(mb),
            mb.returns,
            mb.mask,
            mb.values_old,
            c.clip if c.clip_value else None,
        )
        entropy = masked_mean(dist.entropy(), mb.mask)
        loss = policy_loss + c.vf_coef * v_loss - self.ent_coef * entropy
        with torch.no_grad():  # for the logs only: no autograd graph
            stats = {
                "policy_loss": policy_loss.detach(),
                "value_loss": v_loss.detach(),
                "entropy": entropy.detach(),
                "approx_kl": masked_mean(kl_k3(logp, mb.logp_old), mb.mask),
                "clipfrac": masked_mean(((ratio - 1).abs() > c.clip).float(), mb.mask),
                "ratio_mean": masked_mean(ratio, mb.mask),
            }
        return loss, stats

    def update(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, float]:
        c = self.config
        lr = annealed(c.lr, self.updates, self.total_updates, c.anneal_lr)
        set_lr(self.optimizer, lr)
        ent_coef = annealed(c.ent_coef, self.updates, self.total_updates, c.anneal_ent_coef)
        self.ent_coef.fill_(ent_coef)
        logged: list[dict[str, torch.Tensor]] = []  # averaged at the end: no GPU sync per step
        stopped_early = False
        for _epoch in range(c.n_epochs):
            epoch_start = len(logged)
            for mb in batch.minibatches(c.n_minibatches, generator):
                loss, stats = self.compiled_loss(mb)
                if self.extra_loss is not None:
                    extra = self.extra_loss()
                    loss, stats["extra_loss"] = loss + extra, extra.detach()
                check_finite("PPO loss", loss)
                self.optimizer.zero_grad()
                loss.backward()
                stats["grad_norm"] = self.optimizer.clip_grad_norm(c.max_grad_norm)
                self.optimizer.step()
                logged.append(stats)
            if c.target_kl is not None:
                epoch_kl = torch.stack([s["approx_kl"] for s in logged[epoch_start:]]).mean()
                if epoch_kl.item() > c.target_kl:
                    stopped_early = True
                    break
        metrics = {key: torch.stack([s[key] for s in logged]).mean().item() for key in logged[0]}
        if c.variant == "kl":
            # Adaptive beta (Schulman et al. 2017, section 4).
            if metrics["approx_kl"] < c.kl_target / 1.5:
                self.beta /= 2
            elif metrics["approx_kl"] > c.kl_target * 1.5:
                self.beta *= 2
            metrics["kl_beta"] = self.beta
        if c.anneal_ent_coef:
            metrics["ent_coef"] = ent_coef
        metrics.update(lr=lr, epochs_run=_epoch + 1, stopped_early=float(stopped_early))
        self.updates += 1
        return metrics

    def state_dict(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "beta": self.beta,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.beta, self.updates = state["beta"], state["updates"]
