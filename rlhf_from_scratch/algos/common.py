"""What the four algorithms share: advantage estimation, the value loss, LR annealing, checks.

Nothing here knows about environments or tokens: inputs are time-major reward tensors [T, N]
and a `Batch`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch

from rlhf_from_scratch.algos.batch import masked_mean
from rlhf_from_scratch.maths.returns import gae
from rlhf_from_scratch.utils.errors import ConfigError, check_positive, check_unit_interval


class NonFiniteLossError(ConfigError):
    """A loss became NaN or infinite: the run stops and the last good checkpoint is kept."""


def check_finite(name: str, value: torch.Tensor) -> None:
    """Stop with a message naming the quantity (the caller adds the step) if it is not finite."""
    finite = math.isfinite(value.item()) if value.numel() == 1 else torch.isfinite(value).all()
    if not finite:
        raise NonFiniteLossError(
            f"{name} is {value.item() if value.numel() == 1 else 'not finite'}; "
            "lower the learning rate or check the rewards (the last good checkpoint is kept)"
        )


def check_common(gamma: float, lam: float, lr: float) -> None:
    check_unit_interval("gamma", gamma)
    check_unit_interval("lam (GAE lambda)", lam)
    check_positive("lr", lr)


def gae_estimate(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GAE advantages and value targets; every position is known (returns a mask of ones)."""
    advantages, returns = gae(rewards, values, terminated, truncated, gamma, lam)
    return advantages, returns, torch.ones_like(rewards)


def value_loss(
    value: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    values_old: torch.Tensor | None = None,
    clip: float | None = None,
) -> torch.Tensor:
    """L^VF = 1/2 (V(s) - R)^2 (lecture 001), optionally clipped around V_old like PPO2's."""
    loss = (value - returns) ** 2
    if clip is not None and values_old is not None:
        clipped = values_old + (value - values_old).clamp(-clip, clip)
        loss = torch.maximum(loss, (clipped - returns) ** 2)
    return 0.5 * masked_mean(loss, mask)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def annealed_lr(lr: float, update: int, total_updates: int | None, anneal: bool) -> float:
    """Linear annealing to 0 over the run (the 37 details of PPO), or a constant lr."""
    if not anneal or not total_updates:
        return lr
    return lr * max(0.0, 1.0 - update / total_updates)


def adam(parameters: list[torch.nn.Parameter], lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with the fused kernel (one call for all parameters: much faster for small nets)."""
    return torch.optim.Adam(parameters, lr=lr, eps=eps, fused=True)


def clip_grad_norm(parameters: list[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale the gradients so that their global L2 norm is at most max_norm; returns the norm.

    torch.nn.utils.clip_grad_norm_'s arithmetic, g <- g * min(1, max_norm / (||g|| + 1e-6)), in
    three calls: its grouping of the tensors by device and dtype costs twice what the arithmetic
    of a small MLP does, once per minibatch.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (norm + 1e-6)).clamp(max=1.0))
    return norm


def compiled(fn: Callable, enabled: bool = True) -> Callable:
    """`torch.compile(fn)`, or `fn` itself if not enabled or if compiling fails.

    For the small MLPs of MuJoCo a minibatch is a few hundred tiny operator calls; compiled,
    the forward and its backward become a few fused kernels and a PPO minibatch step takes about
    half the time on the CPU (benchmarks/throughput), for some seconds of compiling once per run
    (measured on the 2-core CPU: 12.5 s with an empty Inductor cache, 1.9 s once its on-disk
    cache holds the kernels).
    Compiling needs a C++ compiler on the CPU; without one (or on any other failure) the run
    warns once and goes on eagerly: the arithmetic is the same. A second PPO object of the same
    shapes in the same process reuses the compiled graph (measured: one graph for 11 of them).
    """
    if not enabled:
        return fn
    current = torch.compile(fn)

    def call(*args, **kwargs):
        nonlocal current
        try:
            return current(*args, **kwargs)
        except Exception as error:
            if current is fn:  # already eager: a real error in fn
                raise
            warnings.warn(f"torch.compile failed, running eagerly: {error}", stacklevel=2)
            current = fn
            return fn(*args, **kwargs)

    return call
