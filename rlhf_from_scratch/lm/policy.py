"""The language model as an actor-critic: what the algorithms of `algos/` talk to.

Lecture 004: "LM as policy, action space = the vocabulary". The state s_t is the prompt and
the response so far, the action a_t is the next token, and

    pi_theta(a_t | s_t) = softmax( logits_theta(s_t) / temperature )[a_t]

with the same temperature the responses were sampled with (else the ratio pi / pi_old is off
from the first step; Huang et al. 2023). The value V_phi(s_t) comes from a SEPARATE critic
GPT with a zero-initialised scalar head (InstructGPT: the value model is initialised from the
reward model), so `shared = False`: TRPO's natural-gradient step and REINFORCE's fitted value
baseline move only their own network.

A batch's `obs` is {"tokens": [B, L], "attention_mask": [B, L]}: left-padded prompts, then
the response (T = actions.shape[1] tokens) and padding after end of text. Position t of the
response is predicted from the hidden state at L - T - 1 + t.
"""

from __future__ import annotations

from contextlib import ExitStack, nullcontext

import torch
from torch.distributions import Categorical
from torch.nn.attention import SDPBackend, sdpa_kernel

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.lm.model import GPT


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (the matmuls), nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def response_logits(model: GPT, obs: dict, T: int, second_order: bool = False) -> torch.Tensor:
    """logits_theta(s_t) for the T response positions, [B, T, V] in float32.

    second_order: use the plain ("math") attention kernel, whose backward can itself be
    differentiated (TRPO's Fisher-vector products); the fused kernels cannot.
    """
    tokens, mask = obs["tokens"], obs["attention_mask"]
    with ExitStack() as stack:
        stack.enter_context(autocast_for(tokens.device))
        if second_order:
            stack.enter_context(sdpa_kernel(SDPBackend.MATH))
        logits, _ = model(tokens[:, :-1], attention_mask=mask[:, :-1])
    return logits[:, -T:].float()


def response_logprobs(model: GPT, obs: dict, actions: torch.Tensor, temperature: float):
    """log pi(a_t | s_t) of the response tokens, [B, T] (any GPT: policy or reference)."""
    logits = response_logits(model, obs, actions.shape[1]) / temperature
    return torch.log_softmax(logits, -1).gather(-1, actions[..., None]).squeeze(-1)


class LMActorCritic(torch.nn.Module):
    """pi_theta = `actor` (a GPT), V_phi = `critic` (a GPT with a value head); the `Policy`
    interface of algos/batch.py."""

    shared = False

    def __init__(
        self,
        actor: GPT,
        critic: GPT | None,
        temperature: float = 1.0,
        second_order: bool = False,
    ) -> None:
        """second_order: pi must be twice differentiable (TRPO's Fisher-vector products).
        critic None: a policy without a value function (DPO, best-of-n), V = 0."""
        super().__init__()
        assert critic is None or critic.scalar_head is not None, "the critic needs a value head"
        self.actor, self.critic, self.temperature = actor, critic, temperature
        self.second_order = second_order

    def distribution(self, batch: Batch) -> Categorical:
        """pi_theta(. | s_t) over the vocabulary at every response position: [B, T] x V."""
        T = batch.actions.shape[1]
        logits = response_logits(self.actor, batch.obs, T, self.second_order)
        return Categorical(logits=logits / self.temperature)

    def value(self, batch: Batch) -> torch.Tensor:
        """V_phi(s_t) at every response position, [B, T] (zeros without a critic)."""
        if self.critic is None:
            return torch.zeros(batch.actions.shape, device=batch.actions.device)
        tokens, mask = batch.obs["tokens"], batch.obs["attention_mask"]
        with autocast_for(tokens.device):
            values = self.critic.score(tokens[:, :-1], mask[:, :-1])
        return values[:, -batch.actions.shape[1] :].float()

    def policy_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.actor.parameters())

    def value_parameters(self) -> list[torch.nn.Parameter]:
        return [] if self.critic is None else list(self.critic.parameters())
