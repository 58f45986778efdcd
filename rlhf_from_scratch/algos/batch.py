"""The batch every algorithm reads, and the small interface it talks to a policy through.

A gym rollout and a language-model rollout both fill the same `Batch`; the algorithms never
see an environment. Fields are indexed along the first dimension, so a minibatch is `batch[idx]`:

  gym:  obs [N, ...], actions [N, ...], every other field [N]        (N = steps x envs)
  LM:   obs = token ids [B, L], actions [B, T], every other field [B, T]  (T response tokens)

`mask` is 1 where a position is a real action whose return is known (an env step, a response
token) and 0 elsewhere (an autoreset step, padding after end of text). Every loss is a masked
mean, so padding changes no loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, Protocol

import torch
from torch.distributions import Distribution


@dataclass
class Batch:
    obs: Any  # whatever the policy reads: a tensor, or a dict of tensors
    actions: torch.Tensor
    logp_old: torch.Tensor  # log pi_old(a|s) at collection time
    advantages: torch.Tensor
    returns: torch.Tensor  # value targets
    values_old: torch.Tensor  # V_old(s) at collection time
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.actions.shape[0]

    def __getitem__(self, index: Any) -> Batch:
        return Batch(**{f.name: _index(getattr(self, f.name), index) for f in fields(self)})

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    def minibatches(
        self, n_minibatches: int, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Shuffled minibatches that together cover the batch once (an epoch)."""
        order = torch.randperm(len(self), generator=generator)
        shuffled = self[order]  # one gather; each minibatch is then a slice (a view)
        size = -(-len(self) // n_minibatches)  # the sizes of order.chunk(n_minibatches)
        for start in range(0, len(self), size):
            yield shuffled[start : start + size]


def _index(value: Any, index: Any) -> Any:
    if isinstance(value, dict):
        return {k: v[index] for k, v in value.items()}
    return value[index]


def _to(value: Any, device: torch.device | str) -> Any:
    if isinstance(value, dict):
        return {k: v.to(device) for k, v in value.items()}
    return value.to(device)


class Policy(Protocol):
    """What an algorithm may ask of a policy (gym actor-critic and GPT alike)."""

    shared: bool  # pi and V share a trunk (TRPO and a REINFORCE value baseline need them apart)

    def distribution(self, batch: Batch) -> Distribution:
        """pi_theta(. | s) for every position of the batch; log_prob(batch.actions) fits mask."""

    def value(self, batch: Batch) -> torch.Tensor:
        """V_phi(s) for every position, shaped like batch.mask."""

    def policy_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters of pi (TRPO's natural-gradient step moves only these)."""

    def value_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters of V that are not in policy_parameters (only a head when shared)."""


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum(x * mask) / sum(mask): a mean over the real positions only."""
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def normalize(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std over the real positions (advantage normalisation)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) / (var.sqrt() + eps)
