"""Returns and advantages: the discounted return, reward-to-go and GAE(lambda).

Lectures: ../shared/seeds/002 (reward-to-go, discounting, baselines) and 001 (returns, GAE).

Every function works on time-major tensors of shape [T, N] (T steps of N parallel
environments, or T tokens of N responses when given transposed). Episodes end in two
different ways, and they are kept apart:

  terminated[t] = 1   the episode really ended after step t: nothing follows, V(s_{t+1}) = 0.
  truncated[t]  = 1   the episode was cut (a time limit): the future was not zero, so we
                      bootstrap with V(s_{t+1}), the value of the observation the env returned.

`values` has T + 1 rows: values[t] = V(s_t), and values[T] = V(s_T) of the state after the last
step. After a cut (terminated or truncated at t) values[t + 1] is the value of the *final*
observation of that episode, which is what truncation needs.
"""

from __future__ import annotations

import numpy as np
import torch


def discounted_return(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """G = sum_t gamma^t r_t for each column of one episode [T, N] (lecture 001, eq. for G).

    With gamma = 1 this is the total return of REINFORCE's first estimator.
    """
    T = rewards.shape[0]
    discounts = gamma ** torch.arange(T, dtype=rewards.dtype, device=rewards.device)
    return (discounts.view(T, *([1] * (rewards.dim() - 1))) * rewards).sum(0)


def reward_to_go(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    values: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discounted reward-to-go G_t = sum_{t' >= t} gamma^(t'-t) r_t' (lecture 002).

    Computed backwards, one episode boundary at a time:
        G_t = r_t + gamma * [ (1 - done_t) G_{t+1} + truncated_t V(s_{t+1}) ],
    with done_t = terminated_t or truncated_t. A time-limit cut bootstraps V(s_{t+1}) when
    `values` are given (else 0), a termination never does.

    The last, unfinished episode of each column has no known return: if `values` are given
    it is bootstrapped with V(s_T) = values[T]; otherwise its steps are marked unknown.

    Returns (G [T, N], known [T, N]): `known` is 1 where G_t is a real Monte Carlo return
    (possibly bootstrapped), 0 where the episode was still running when the rollout stopped.
    """
    T = rewards.shape[0]
    done = torch.maximum(terminated, truncated)
    returns = torch.zeros_like(rewards)
    known = torch.zeros_like(rewards)
    if values is not None:
        next_return = values[T]
        next_known = torch.ones_like(rewards[0])
    else:
        next_return = torch.zeros_like(rewards[0])
        next_known = torch.zeros_like(rewards[0])
    for t in reversed(range(T)):
        bootstrap = values[t + 1] * truncated[t] if values is not None else 0.0
        next_return = rewards[t] + gamma * ((1 - done[t]) * next_return + bootstrap)
        next_known = torch.maximum(done[t], next_known)
        returns[t] = next_return
        known[t] = next_known
    return returns, known


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016; lecture 001, "GAE").

        delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t)
        A_t     = delta_t + gamma lambda (1 - done_t) A_{t+1}
        returns = A_t + V(s_t)              (the value target)

    lambda = 0 gives the one-step TD error; lambda = 1 gives reward-to-go minus V(s_t).
    `values` has T + 1 rows (see the module docstring). Returns (advantages, returns), [T, N].
    """
    T = rewards.shape[0]
    done = torch.maximum(terminated, truncated)
    # every delta_t at once; only the recursion over t needs a loop (one multiply-add a step),
    # run on NumPy arrays: a step costs ~1.5 us there against ~8 us of torch's dispatch
    delta = rewards + gamma * (1 - terminated) * values[1:] - values[:T]
    decay = (gamma * lam * (1 - done)).detach().cpu().numpy()
    delta = delta.detach().cpu().numpy()
    advantages = np.empty_like(delta)
    next_advantage = np.zeros_like(delta[0])
    for t in reversed(range(T)):
        next_advantage = delta[t] + decay[t] * next_advantage
        advantages[t] = next_advantage
    advantages = torch.from_numpy(advantages).to(rewards.device)
    return advantages, advantages + values[:T]
