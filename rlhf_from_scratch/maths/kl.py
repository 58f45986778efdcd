"""Sample estimators of KL(pi_old || pi) from actions drawn from pi_old (Schulman 2020, "k1, k3").

Lectures: ../shared/seeds/002 (the KL trust region), 001 and 004 (the KL penalty r_KL).
With log r = log pi(a|s) - log pi_old(a|s) and a ~ pi_old:

    k1 = -log r                 unbiased, high variance, can be negative
    k3 = (r - 1) - log r        unbiased, always >= 0, low variance ("approx_kl" in PPO logs)
"""

from __future__ import annotations

import torch


def kl_k1(logp: torch.Tensor, logp_old: torch.Tensor) -> torch.Tensor:
    return logp_old - logp


def kl_k3(logp: torch.Tensor, logp_old: torch.Tensor) -> torch.Tensor:
    log_ratio = logp - logp_old
    return torch.expm1(log_ratio) - log_ratio
