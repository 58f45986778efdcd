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
from rlhf_from_scratch.utils.errors import ConfigError, check, check_positive, check_unit_interval


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


def annealed(value: float, update: int, total_updates: int | None, anneal: bool) -> float:
    """A learning rate or a loss coefficient at `update`: annealed linearly to 0 over the run
    (the 37 details of PPO, for the lr), or the constant `value`."""
    if not anneal or not total_updates:
        return value
    return value * max(0.0, 1.0 - update / total_updates)


def adam(parameters: list[torch.nn.Parameter], lr: float, eps: float = 1e-8) -> FlatAdam:
    """The algorithms' optimiser: Adam over the parameters gathered into one flat buffer."""
    return FlatAdam(parameters, lr=lr, eps=eps)


class FlatAdam:
    """Adam (Kingma & Ba 2015) over parameters that live in one flat buffer.

        m <- b1 m + (1 - b1) g        v <- b2 v + (1 - b2) g^2        t <- t + 1
        theta <- theta - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    torch.optim.Adam's arithmetic (eps outside the square root; equal within float rounding,
    tested). On construction each parameter's data and gradient become views into two flat
    tensors, so the update, the gradient clip and the zeroing are each a few vector operations
    however many tensors the networks have: for MuJoCo's actor-critic (13 tensors) the update
    and the clip take ~45 + ~30 us per minibatch instead of ~130 + ~70 us with torch's fused
    Adam and a per-tensor clip (2-core CPU; benchmarks/throughput). The modules keep their
    Parameter objects (state_dict and load_state_dict work as before), but a parameter must not
    be replaced afterwards (`p.data = ...`, `module.to(device)`, `zero_grad(set_to_none=True)` on
    the module): `step` checks and says so.
    """

    def __init__(
        self,
        parameters: list[torch.nn.Parameter],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        params = list(parameters)
        check(len(params) > 0, "FlatAdam: no parameters to optimise")
        check(len({id(p) for p in params}) == len(params), "FlatAdam: a parameter is listed twice")
        check(
            len({(p.dtype, p.device) for p in params}) == 1,
            "FlatAdam: the parameters must share one dtype and device (build the optimiser "
            "after moving the model)",
        )
        self.params = params
        self.flat = torch.nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
        self.flat.grad = torch.zeros_like(self.flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.flat.data[offset : offset + n].view_as(p)
            p.grad = self.flat.grad[offset : offset + n].view_as(p)
            offset += n
        self._pointers = [(p.data_ptr(), p.grad.data_ptr()) for p in params]
        self.param_groups = [{"lr": lr}]  # as torch's optimisers: set_lr works on both
        self.betas, self.eps = betas, eps
        self.exp_avg = torch.zeros_like(self.flat.data)
        self.exp_avg_sq = torch.zeros_like(self.flat.data)
        self.steps = 0

    def zero_grad(self) -> None:
        self.flat.grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        """Clip the gradient's global L2 norm to max_norm (see clip_grad_norm); returns the norm."""
        return clip_grad_norm([self.flat], max_norm)

    @torch.no_grad()
    def step(self) -> None:
        moved = [
            p
            for p, (data, grad) in zip(self.params, self._pointers, strict=True)
            if p.data_ptr() != data or p.grad is None or p.grad.data_ptr() != grad
        ]
        if moved:
            raise RuntimeError(
                f"FlatAdam: {len(moved)} parameter(s) or their gradients were replaced after the "
                "optimiser was built (p.data = ..., .to(device), zero_grad(set_to_none=True) on "
                "the module); build the optimiser last and zero gradients with its zero_grad()"
            )
        (b1, b2), g = self.betas, self.flat.grad
        self.steps += 1
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(1 - b2**self.steps)).add_(self.eps)
        lr = self.param_groups[0]["lr"]
        self.flat.data.addcdiv_(self.exp_avg, denom, value=-lr / (1 - b1**self.steps))

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "lr": self.param_groups[0]["lr"],
            "exp_avg": self.exp_avg.clone(),
            "exp_avg_sq": self.exp_avg_sq.clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        if "param_groups" in state:  # torch.optim.Adam's, from a run saved by an earlier version
            per_param = [state["state"].get(i) for i in state["param_groups"][0]["params"]]
            started = all(s is not None for s in per_param)
            flat = lambda key: torch.cat([s[key].reshape(-1) for s in per_param])  # noqa: E731
            state = {
                "steps": int(per_param[0]["step"]) if started else 0,
                "lr": state["param_groups"][0]["lr"],
                "exp_avg": flat("exp_avg") if started else torch.zeros_like(self.exp_avg),
                "exp_avg_sq": flat("exp_avg_sq") if started else torch.zeros_like(self.exp_avg),
            }
        check(
            state["exp_avg"].shape == self.exp_avg.shape,
            f"optimiser state for {state['exp_avg'].numel()} numbers, this model has "
            f"{self.exp_avg.numel()}: the checkpoint is from a different network",
        )
        self.steps, self.param_groups[0]["lr"] = state["steps"], state["lr"]
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])


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
    # Inductor's size asserts re-check shapes that Dynamo's guards have checked (~40 us a minibatch)
    current = torch.compile(fn, options={"size_asserts": False})

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
