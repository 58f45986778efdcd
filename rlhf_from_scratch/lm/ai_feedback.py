"""AI feedback (RLAIF, Lee et al. 2023; lecture 000): a language model labels the comparisons.

RLAIF asks an off-the-shelf LLM which of two responses is better and reads its answer from the
probabilities of its next tokens. Our GPTs cannot follow such a question, but a model trained
on reviews knows how a good review goes on: after a response y it finds a recommending closing
more or less likely than a condemning one. That difference is the AI labeler's score,

    s_AI(x, y) = mean_k [ log p_judge(pos_k | y) - log p_judge(neg_k | y) ]

with probe pairs that name the prompt's topic ("I would happily recommend the bakery to
everyone." / "I would never recommend the bakery to anyone."; "I loved the bakery." / "I hated
the bakery."). No gold label is used. `rlhf lm rm --labeler ai --judge RUN` ranks the K
responses by s_AI instead of by the gold labeler, and everything downstream (the reward model,
RL, DPO) is unchanged: that is RLAIF. How often the AI labeler orders a pair as the gold
labeler does is its "alignment" (Lee et al.: 62.7-78% against human labels).

"Direct" RLAIF skips the reward model: `rlhf lm rlhf --ai-judge RUN` uses s_AI itself as the
reward of each response, shifted and scaled to mean 0 and std 1 on SFT samples like a reward
model's score (`ai_reward_fn`).
"""

from __future__ import annotations

import torch

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.model import GPT, left_pad
from rlhf_from_scratch.lm.prompts import split_sequence

PROBES = (
    (
        "I would happily recommend {topic} to everyone.",
        "I would never recommend {topic} to anyone.",
    ),
    ("I loved {topic}.", "I hated {topic}."),
)


def probes_for(prompt: str) -> list[tuple[str, str]]:
    """The (positive, negative) closings for a prompt's topic ("it" if the prompt names none)."""
    asked = gold.parse_instruction(prompt)
    topic = asked["topic"] if asked is not None else "it"
    return [(pos.format(topic=topic), neg.format(topic=topic)) for pos, neg in PROBES]


@torch.no_grad()
def continuation_logprobs(
    judge: GPT, tokenizer, contexts: list[str], continuations: list[str]
) -> torch.Tensor:
    """log p_judge(continuation | <eot> context), summed over the continuation's tokens, [N].
    A context too long for the judge's window loses its beginning (the end is what counts)."""
    device = next(judge.parameters()).device
    block = judge.config.block_size
    seqs, lengths = [], []
    for context, continuation in zip(contexts, continuations, strict=True):
        cont = tokenizer.encode(" " + continuation)
        ctx = [tokenizer.eot_id] + tokenizer.encode(context.strip())
        seqs.append((ctx + cont)[-block:])
        lengths.append(len(cont))
    idx, mask = left_pad(seqs, tokenizer.pad_id)
    logp = judge.logprobs(idx.to(device), mask.to(device))  # [N, L - 1]: token t from t - 1
    positions = torch.arange(logp.shape[1], device=device)
    first = logp.shape[1] - torch.tensor(lengths, device=device)  # left padding: ends aligned
    return (logp * (positions[None, :] >= first[:, None])).sum(1)


@torch.no_grad()
def ai_scores(
    judge: GPT, tokenizer, texts: list[tuple[str, str]], batch_size: int = 32
) -> list[float]:
    """s_AI(x, y) of each (prompt, response): how much more the judge expects praise than
    condemnation to follow the response, averaged over the probe pairs."""
    scores = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        contexts, positives, negatives = [], [], []
        for prompt, response in chunk:
            for pos, neg in probes_for(prompt):
                contexts.append(response)
                positives.append(pos)
                negatives.append(neg)
        pos = continuation_logprobs(judge, tokenizer, contexts, positives)
        neg = continuation_logprobs(judge, tokenizer, contexts, negatives)
        per_text = (pos - neg).view(len(chunk), len(PROBES)).mean(1)
        scores += per_text.tolist()
    return scores


def agreement(label_pairs, gold_scores: list[float]) -> tuple[float, int]:
    """(the fraction of pairs, a tie counting half, that a labeler ordered as the gold scores
    do, the number of pairs), over the pairs (i, j, mu) where the gold scores differ."""
    credit, total = 0.0, 0
    for i, j, mu in label_pairs:
        if gold_scores[i] == gold_scores[j]:
            continue
        gold_first = gold_scores[i] > gold_scores[j]
        credit += 0.5 if mu == 0.5 else float((mu == 1.0) == gold_first)
        total += 1
    return (credit / total if total else float("nan")), total


def decode_sequences(tokenizer, tokens: torch.Tensor, mask: torch.Tensor) -> list[tuple[str, str]]:
    """(prompt, response) of each row of `<eot> prompt response [<eot>]` token sequences."""
    texts = []
    for row, row_mask in zip(tokens.tolist(), mask.tolist(), strict=True):
        ids = [t for t, m in zip(row, row_mask, strict=True) if m and t != tokenizer.eot_id]
        texts.append(split_sequence(tokenizer.decode(ids)))
    return texts


def ai_reward_fn(judge: GPT, tokenizer, shift: float = 0.0, scale: float = 1.0):
    """Direct RLAIF's reward: (s_AI(x, y) - shift) / scale of each sequence, a RewardFn of
    lm/rollout.py ((tokens, attention mask) -> [B]) in place of a reward model."""

    def reward(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = ai_scores(judge, tokenizer, decode_sequences(tokenizer, tokens, mask))
        return (torch.tensor(scores, device=tokens.device) - shift) / scale

    return reward
