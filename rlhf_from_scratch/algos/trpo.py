"""Trust Region Policy Optimisation (Schulman et al. 2015).

Lecture: ../shared/seeds/002 (importance sampling, KL trust region, second-order step).

    maximise   L(theta)  = E[ pi_theta(a|s) / pi_old(a|s) A(s, a) ]
    subject to KL-bar    = E[ KL(pi_old(.|s) || pi_theta(.|s)) ] <= delta

Linearise L (gradient g) and take the KL to second order (Fisher matrix H, the Hessian of
KL-bar at theta_old). The step direction is x = H^-1 g, found by conjugate gradient from
Fisher-vector products H v = grad( grad(KL-bar) . v ) -- H is never formed. The largest step
inside the trust region is

    theta_new = theta_old + sqrt(2 delta / (x^T H x)) x,

shrunk by a backtracking line search until KL-bar <= delta and L improves (else: no step).
The value function is fitted separately, by regression on the GAE returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.distributions import kl_divergence
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from rlhf_from_scratch.algos.batch import Batch, Policy, masked_mean, normalize
from rlhf_from_scratch.algos.common import (
    adam,
    check_common,
    check_finite,
    gae_estimate,
    value_loss,
)
from rlhf_from_scratch.utils.errors import check, check_positive


@dataclass
class TRPOConfig:
    gamma: float = 0.99  # discount
    lam: float = 0.95
    max_kl: float = 0.01  # delta
    damping: float = 0.1  # added to the Fisher-vector product (H + damping I)
    cg_iters: int = 10  # conjugate-gradient steps for the search direction
    backtrack_iters: int = 10  # line-search steps, each shrinking the step by backtrack_coef
    backtrack_coef: float = 0.8  # the line search's shrink factor
    value_lr: float = 1e-3  # Adam step size of the value function
    value_epochs: int = 10  # value regression passes per batch
    value_minibatches: int = 32  # value regression minibatches per pass
    normalize_advantages: bool = True
    ent_coef: float = 0.0  # an entropy bonus in the surrogate (Christiano et al. use 0.01)

    def validate(self) -> None:
        check_common(self.gamma, self.lam, self.value_lr)
        check_positive("max_kl", self.max_kl)
        check(self.damping >= 0, f"damping must be >= 0, got {self.damping}")
        check_positive("cg_iters", self.cg_iters)
        check(0 < self.backtrack_coef < 1, "backtrack_coef must be in (0, 1)")


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iters: int = 10,
    tol: float = 1e-10,
) -> torch.Tensor:
    """Solve A x = b for symmetric positive-definite A given only v -> A v (Hestenes-Stiefel)."""
    x = torch.zeros_like(b)
    r = b.clone()  # residual b - A x
    p = b.clone()  # search direction
    rr = r @ r
    for _ in range(iters):
        if rr < tol:  # solved (or b = 0: nothing to solve)
            break
        Ap = matvec(p)
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def flat_grad(output: torch.Tensor, params: list[torch.nn.Parameter], **kw) -> torch.Tensor:
    grads = torch.autograd.grad(output, params, allow_unused=True, **kw)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]
    )


def fisher_vector_product(
    mean_kl: Callable[[], torch.Tensor],
    params: list[torch.nn.Parameter],
    v: torch.Tensor,
    damping: float = 0.0,
) -> torch.Tensor:
    """(H + damping I) v with H = Hessian of the mean KL: grad( grad(KL) . v ) (Pearlmutter)."""
    grad_kl = flat_grad(mean_kl(), params, create_graph=True)
    return flat_grad(grad_kl @ v, params) + damping * v


class TRPO:
    def __init__(self, policy: Policy, config: TRPOConfig, total_updates: int | None = None):
        config.validate()
        self.policy, self.config = policy, config
        self.policy_params = list(policy.policy_parameters())
        value_params = list(policy.value_parameters())
        check(
            not policy.shared,
            "TRPO fits the value function separately: it needs a policy with separate actor and "
            "critic networks (shared=False)",
        )
        self.value_optimizer = adam(value_params, lr=config.value_lr)
        self.updates = 0

    def estimate(self, rewards, values, terminated, truncated, groups=None):
        return gae_estimate(
            rewards, values, terminated, truncated, self.config.gamma, self.config.lam
        )

    def surrogate(self, batch: Batch, adv: torch.Tensor) -> torch.Tensor:
        dist = self.policy.distribution(batch)
        ratio = (dist.log_prob(batch.actions) - batch.logp_old).exp()
        surr = masked_mean(ratio * adv, batch.mask)
        if self.config.ent_coef:
            surr = surr + self.config.ent_coef * masked_mean(dist.entropy(), batch.mask)
        return surr

    def update(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, float]:
        c = self.config
        params = self.policy_params
        adv = (
            normalize(batch.advantages, batch.mask) if c.normalize_advantages else batch.advantages
        )
        with torch.no_grad():
            old_dist = self.policy.distribution(batch)

        def mean_kl() -> torch.Tensor:
            return masked_mean(kl_divergence(old_dist, self.policy.distribution(batch)), batch.mask)

        surrogate = self.surrogate(batch, adv)
        check_finite("TRPO surrogate", surrogate)
        g = flat_grad(surrogate, params)
        surr_old = surrogate.item()
        x = conjugate_gradient(
            lambda v: fisher_vector_product(mean_kl, params, v, c.damping), g, c.cg_iters
        )
        xHx = x @ fisher_vector_product(mean_kl, params, x, c.damping)
        step = math.sqrt(2 * c.max_kl / max(float(xHx), 1e-12)) * x
        expected = float(g @ step)

        theta_old = parameters_to_vector(params).detach().clone()
        accepted, kl, surr_new, fraction = False, 0.0, surr_old, 1.0
        with torch.no_grad():
            for _ in range(c.backtrack_iters):
                vector_to_parameters(theta_old + fraction * step, params)
                kl = float(mean_kl())
                surr_new = float(self.surrogate(batch, adv))
                if kl <= c.max_kl and surr_new > surr_old:
                    accepted = True
                    break
                fraction *= c.backtrack_coef
            if not accepted:
                vector_to_parameters(theta_old, params)
                kl, surr_new = 0.0, surr_old

        for _ in range(c.value_epochs):
            for mb in batch.minibatches(c.value_minibatches, generator):
                v_loss = value_loss(self.policy.value(mb), mb.returns, mb.mask)
                self.value_optimizer.zero_grad()
                v_loss.backward()
                self.value_optimizer.step()
        check_finite("TRPO value loss", v_loss)
        self.updates += 1
        with torch.no_grad():
            entropy = masked_mean(self.policy.distribution(batch).entropy(), batch.mask)
        return {
            "surrogate_improvement": surr_new - surr_old,
            "expected_improvement": expected,
            "kl": kl,
            "approx_kl": kl,
            "step_accepted": float(accepted),
            "step_fraction": fraction if accepted else 0.0,
            "value_loss": v_loss.item(),
            "entropy": entropy.item(),
        }

    def state_dict(self) -> dict:
        return {"value_optimizer": self.value_optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.value_optimizer.load_state_dict(state["value_optimizer"])
        self.updates = state["updates"]
