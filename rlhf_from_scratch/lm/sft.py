"""Supervised fine-tuning (SFT): the first step of InstructGPT (lectures 000 and 001).

A pretrained model is trained on demonstrations (x = an instruction, y = a response a
labeler wrote for it), with the loss on the response tokens only:

    loss(theta) = - sum_t m_t log pi_theta(y_t | x, y_<t) / sum_t m_t,   m_t = 1 on response tokens

The prompt is given, not learned: the model should not spend capacity predicting the
instructions. The result, pi_SFT, is the starting point and the frozen reference of RLHF.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.checkpoint import (
    check_compatible,
    load_model,
    resolve_device,
    restore_training,
    training_state,
)
from rlhf_from_scratch.lm.corpus import generate_demonstrations
from rlhf_from_scratch.lm.model import GPT
from rlhf_from_scratch.lm.pretrain import lr_at, make_optimizer
from rlhf_from_scratch.lm.prompts import sequence_ids
from rlhf_from_scratch.lm.sample import complete, encode_prompt
from rlhf_from_scratch.utils.errors import ConfigError, check, check_positive
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import set_seed


@dataclass
class SFTConfig:
    init: str = ""  # the pretraining run directory (or a checkpoint file) to start from
    tokenizer: str | None = None  # if given, must be the checkpoint's
    num_demos: int = 20000  # demonstrations generated to fine-tune on
    corpus_seed: int = 1  # the demonstrations are another sample than the pretraining text
    steps: int = 300
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 20
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_every: int = 100
    checkpoint_every: int = 100
    num_eval_prompts: int = 64  # held-out prompts scored before and after
    seed: int = 1
    device: str = "auto"


def encode_pair(tokenizer, prompt: str, response: str) -> tuple[list[int], list[int]]:
    """(x, y) of one (prompt, response): y[t] = x[t+1] on the response tokens (end of text
    included), -100 on the prompt. The same sequence the reward model reads (`sequence_ids`)."""
    tokens = sequence_ids(tokenizer, prompt, response)
    n_prompt = len(encode_prompt(tokenizer, prompt))
    return tokens[:-1], [-100] * (n_prompt - 1) + tokens[n_prompt:]


def encode_demonstrations(demos, tokenizer, block_size: int) -> list[tuple[list[int], list[int]]]:
    """(x, y) per demonstration (`encode_pair`); those longer than the context are skipped."""
    pairs = [encode_pair(tokenizer, d.prompt, d.response) for d in demos]
    pairs = [(x, y) for x, y in pairs if len(x) <= block_size]
    if not pairs:
        raise ConfigError(f"no demonstration fits the model's context of {block_size} tokens")
    return pairs


def collate(pairs, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a batch (causal attention never looks right, so padding there is harmless)."""
    T = max(len(x) for x, _ in pairs)
    x = torch.full((len(pairs), T), pad_id, dtype=torch.long)
    y = torch.full((len(pairs), T), -100, dtype=torch.long)
    for i, (xi, yi) in enumerate(pairs):
        x[i, : len(xi)] = torch.tensor(xi)
        y[i, : len(yi)] = torch.tensor(yi)
    return x, y


@torch.no_grad()
def evaluate(model: GPT, tokenizer, pairs, prompts: list[str], seed: int) -> dict:
    """Response loss on held-out demonstrations and gold scores of sampled responses."""
    device = next(model.parameters()).device
    model.eval()
    losses = []
    for start in range(0, len(pairs), 32):
        x, y = collate(pairs[start : start + 32], tokenizer.pad_id)
        losses.append(model(x.to(device), y.to(device))[1].item())
    responses = complete(model, tokenizer, prompts, max_new_tokens=160, seed=seed)
    scores = [gold.all_scores(p, r) for p, r in zip(prompts, responses, strict=True)]
    model.train()
    return {
        "val_loss": sum(losses) / len(losses),
        "gold_instruction": sum(s["instruction"] for s in scores) / len(scores),
        "gold_grammar": sum(s["grammar"] for s in scores) / len(scores),
        "samples": [p + r for p, r in zip(prompts[:3], responses[:3], strict=True)],
    }


def sft(cfg: SFTConfig, run: RunDir, on_step: Callable[[int, dict], None] | None = None) -> dict:
    """Fine-tune the init checkpoint on demonstrations; returns the summary."""
    check(bool(cfg.init), "lm sft needs --init RUN_DIR (a pretraining run or a checkpoint file)")
    for key in ("steps", "batch_size", "lr", "num_demos", "eval_every", "checkpoint_every"):
        check_positive(f"--{key.replace('_', '-')}", getattr(cfg, key))
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    model, tokenizer, _ = load_model(cfg.init, cfg.tokenizer)
    model.to(device)
    block = model.config.block_size
    pairs = encode_demonstrations(
        generate_demonstrations(cfg.num_demos, cfg.corpus_seed), tokenizer, block
    )
    held_out = generate_demonstrations(max(cfg.num_eval_prompts, 1), cfg.corpus_seed + 10**6)
    val_pairs = encode_demonstrations(held_out, tokenizer, block)
    eval_prompts = [d.prompt for d in held_out[: cfg.num_eval_prompts]]
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, device)
    data_rng = torch.Generator().manual_seed(cfg.seed)
    step = 0
    state = run.load_latest_checkpoint()
    if state is not None:
        check_compatible(state, model.config, tokenizer, f"checkpoint of run '{run.path}'")
        step = restore_training(state, model, optimizer, {"data_rng": data_rng})
        before = state["before"]
    else:
        before = evaluate(model, tokenizer, val_pairs, eval_prompts, cfg.seed)
        run.log(0, {k: v for k, v in before.items() if k != "samples"})

    start_time = time.time()
    model.train()
    while step < cfg.steps:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = torch.randint(len(pairs), (cfg.batch_size,), generator=data_rng).tolist()
        x, y = collate([pairs[i] for i in batch], tokenizer.pad_id)
        _, loss = model(x.to(device), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        metrics = {"train_loss": loss.item(), "lr": lr}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            ev = evaluate(model, tokenizer, val_pairs, eval_prompts, cfg.seed)
            metrics.update({k: v for k, v in ev.items() if k != "samples"})
        run.log(step, metrics)
        if on_step is not None:
            on_step(step, metrics)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            run.save_checkpoint(
                training_state(
                    model, tokenizer, "sft", step, optimizer, {"data_rng": data_rng}, before=before
                ),
                step,
            )
    after = evaluate(model, tokenizer, val_pairs, eval_prompts, cfg.seed)
    summary = {
        "before_sft": before,
        "after_sft": after,
        "steps": step,
        "wall_time_s": time.time() - start_time,
        "demonstrations": len(pairs),
    }
    run.write_summary(summary)
    return summary
