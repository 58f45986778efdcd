"""The language-model rollout: prompts in, the algorithms' `Batch` out.

Lectures: ../shared/seeds/001 (the KL-penalised objective, GAE) and 004 (r = r_theta -
lambda r_KL). For each prompt x the policy samples a response y = (y_1 .. y_T) and every
token is one step of an episode that ends at end of text:

    r_t = -beta ( log pi(y_t | s_t) - log pi_SFT(y_t | s_t) )  +  [t = T] r_theta(x, y)

(the reward model's normalised score on the final token; a response cut by max_new_tokens
before end of text gets `no_eos_penalty` instead, Huang et al. 2023). Advantages come from
the algorithm's own `estimate` (GAE with gamma = 1, lambda = 0.95 for PPO, A2C and TRPO; a
leave-one-out baseline over the K samples of each prompt for RLOO), on time-major tensors:

    rewards [T, N]    values [T + 1, N] (a zero row appended: nothing follows the response)
    terminated [T, N] = 1 at the last real token and on the padding after it

`mask` is 1 on real response tokens (end of text included) and 0 on padding, so padding
changes no loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.lm.model import GPT, left_pad
from rlhf_from_scratch.lm.policy import LMActorCritic, autocast_for, response_logprobs
from rlhf_from_scratch.lm.reward_model import last_token_scores
from rlhf_from_scratch.lm.sample import encode_prompt
from rlhf_from_scratch.utils.errors import check


def last_index(mask: torch.Tensor) -> torch.Tensor:
    """The index of the last real token of each row of a response mask [B, T] -> [B]."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    return (positions * (mask > 0)).argmax(-1)


def kl_per_token(logp: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """r_KL per token, log pi - log pi_ref on real tokens (0 on padding), [B, T]. Summed over
    a response it is the k1 estimate of KL(pi || pi_SFT) for that response."""
    return (logp - logp_ref) * mask


def token_rewards(
    score: torch.Tensor,
    logp: torch.Tensor,
    logp_ref: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """r_t = -beta (log pi - log pi_ref) + [t = last real token] score, [B, T]."""
    rewards = -beta * kl_per_token(logp, logp_ref, mask)
    last = last_index(mask)
    return rewards.scatter_add(1, last[:, None], score[:, None].to(rewards.dtype))


def episode_ends(mask: torch.Tensor) -> torch.Tensor:
    """terminated [B, T]: 1 at the last real token and on every padding position after it."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    return (positions[None, :] >= last_index(mask)[:, None]).to(torch.float32)


RewardFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (tokens, mask) -> [B]


def reward_model_fn(reward_model: GPT) -> RewardFn:
    """r_theta(x, y) read at the last real token of each sequence (the usual reward)."""
    return partial(last_token_scores, reward_model)


@dataclass
class Rollout:
    batch: Batch
    rewards: torch.Tensor  # [B, T]
    score: torch.Tensor  # r_theta of each response (or the penalty), [B]
    kl: torch.Tensor  # sum_t r_KL of each response, [B]
    ended: torch.Tensor  # the response wrote end of text, [B]
    groups: torch.Tensor  # the prompt of each response, [B]
    responses: list[str]
    prompts: list[str]


@torch.no_grad()
def rollout(
    policy: LMActorCritic,
    reference: GPT,
    reward_fn: RewardFn,
    tokenizer,
    prompts: list[str],
    samples_per_prompt: int,
    beta: float,
    estimate,
    max_new_tokens: int,
    no_eos_penalty: float | None = -1.0,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Sample `samples_per_prompt` responses to each prompt and fill a Batch.

    reward_fn: scores whole sequences (tokens [B, L], attention mask [B, L]) -> [B]; the
        reward model (`reward_model_fn`), or any scorer (an oracle reward in the tests).
    estimate: the algorithm's `estimate(rewards, values, terminated, truncated, groups)`.
    """
    check(len(prompts) > 0, "a rollout needs prompts; got none")
    device = next(policy.parameters()).device
    shown = [p for p in prompts for _ in range(samples_per_prompt)]
    groups = torch.arange(len(prompts), device=device).repeat_interleave(samples_per_prompt)
    idx, prompt_mask = left_pad([encode_prompt(tokenizer, p) for p in shown], tokenizer.pad_id)
    P = idx.shape[1]
    was_training = policy.training
    policy.eval()
    with autocast_for(device):
        tokens, attention = policy.actor.generate(
            idx.to(device),
            prompt_mask.to(device),
            max_new_tokens,
            policy.temperature,
            eos_id=tokenizer.eot_id,
            pad_id=tokenizer.pad_id,
            generator=generator,
        )
    actions, mask = tokens[:, P:], attention[:, P:].float()
    obs = {"tokens": tokens, "attention_mask": attention}
    probe = Batch(obs, actions, *(torch.zeros_like(mask) for _ in range(4)), mask)
    logp = policy.distribution(probe).log_prob(actions) * mask
    logp_ref = response_logprobs(reference, obs, actions, policy.temperature) * mask
    values = policy.value(probe) * mask
    with autocast_for(device):
        score = reward_fn(tokens, attention).float()
    ended = ((actions == tokenizer.eot_id) & (mask > 0)).any(1)
    if no_eos_penalty is not None:
        score = torch.where(ended, score, torch.full_like(score, no_eos_penalty))
    rewards = token_rewards(score, logp, logp_ref, mask, beta)
    terminated = episode_ends(mask)
    values_next = torch.cat([values, torch.zeros_like(values[:, :1])], 1)
    adv, ret, known = estimate(
        rewards.T, values_next.T, terminated.T, torch.zeros_like(terminated.T), groups
    )
    policy.train(was_training)
    batch = Batch(obs, actions, logp, adv.T, ret.T, values, mask * known.T)
    responses = []
    for row, row_mask in zip(actions.tolist(), mask.tolist(), strict=True):
        ids = [t for t, m in zip(row, row_mask, strict=True) if m and t != tokenizer.eot_id]
        responses.append(tokenizer.decode(ids))
    return Rollout(
        batch,
        rewards,
        score,
        kl_per_token(logp, logp_ref, mask).sum(1),
        ended,
        groups,
        responses,
        shown,
    )
