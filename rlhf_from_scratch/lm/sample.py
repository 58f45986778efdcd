"""Text in, text out: complete a list of prompts with a GPT and a tokenizer.

Every prompt is preceded by the end-of-text token, as every document of the pretraining
stream is, so an empty prompt asks for a fresh document. Prompts of different lengths are
left-padded into one batch (model.generate keeps their positions and masks right).
"""

from __future__ import annotations

import torch

from rlhf_from_scratch.lm.grammar import fluency, is_grammatical, sentences
from rlhf_from_scratch.lm.model import GPT, left_pad
from rlhf_from_scratch.utils.errors import ConfigError


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    return [tokenizer.eot_id] + tokenizer.encode(prompt)


@torch.no_grad()
def complete(
    model: GPT,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int = 128,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> list[str]:
    """One completion per prompt, cut at the first end-of-text token."""
    device = next(model.parameters()).device
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    longest = max((len(e) for e in encoded), default=0)
    if longest >= model.config.block_size:
        raise ConfigError(
            f"a prompt of {longest} tokens is longer than the model's context "
            f"({model.config.block_size} tokens, end-of-text included); shorten it"
        )
    max_new_tokens = min(max_new_tokens, model.config.block_size - longest)
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(encoded), batch_size):
        idx, mask = left_pad(encoded[start : start + batch_size], tokenizer.pad_id)
        tokens, new_mask = model.generate(
            idx.to(device),
            mask.to(device),
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            eos_id=tokenizer.eot_id,
            pad_id=tokenizer.pad_id,
            generator=generator,
        )
        for row, row_mask in zip(
            tokens[:, idx.shape[1] :].tolist(), new_mask[:, idx.shape[1] :], strict=True
        ):
            ids = [
                t
                for t, m in zip(row, row_mask.tolist(), strict=True)
                if m and t != tokenizer.eot_id
            ]
            out.append(tokenizer.decode(ids))
    model.train(was_training)
    return out


def complete_sentences(text: str) -> str:
    """Drop an unfinished last sentence (a sample cut by max_new_tokens)."""
    parts = sentences(text)
    if parts and parts[-1][-1] not in ".!?":
        parts = parts[:-1]
    return " ".join(parts)


def sample_fluency(model: GPT, tokenizer, n: int = 32, seed: int = 0) -> dict:
    """How much of what the model writes from scratch parses in the corpus grammar."""
    texts = complete(model, tokenizer, [""] * n, max_new_tokens=model.config.block_size, seed=seed)
    finished = [complete_sentences(t) for t in texts]
    return {
        "sample_fluency": sum(fluency(t) for t in finished) / n,
        "sample_grammatical": sum(is_grammatical(t) for t in finished) / n,
        "samples": texts[:4],
    }
