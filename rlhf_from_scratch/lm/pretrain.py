"""Pretraining: next-token prediction on the corpus, a plain loop.

    loss(theta) = -1/T sum_t log pi_theta(x_t | x_<t)        (cross-entropy, nats per token)

The built-in corpus knows its own entropy rate H (corpus.py): a model that has learned the
corpus perfectly reaches a validation loss of H, so `val_loss - H` says how much is left to
learn. For that comparison the validation windows start at document boundaries, so that
every token is predicted from its whole document so far (training windows start anywhere).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch

from rlhf_from_scratch.lm.checkpoint import (
    check_compatible,
    resolve_device,
    restore_training,
    training_state,
)
from rlhf_from_scratch.lm.corpus import entropy_rate, generate_reviews, read_text_corpus
from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.sample import sample_fluency
from rlhf_from_scratch.lm.tokenizer import get_tokenizer
from rlhf_from_scratch.utils.errors import ConfigError, check_positive, unknown
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import set_seed

# Model sizes: `tiny` for tests, `small` trains on 2 CPU cores in minutes, `gpt2-small` on a GPU.
MODEL_PRESETS: dict[str, dict] = {
    "tiny": dict(n_layer=2, n_head=2, n_embd=32, block_size=256),
    "small": dict(n_layer=4, n_head=4, n_embd=128, block_size=256),
    "gpt2-small": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024),
}
# Training defaults per size (steps, batch, learning rate), overridable by flags.
TRAIN_PRESETS: dict[str, dict] = {
    "tiny": dict(steps=50, batch_size=8, lr=3e-3, warmup=5),
    "small": dict(steps=1100, batch_size=8, lr=4e-3, warmup=30),
    "gpt2-small": dict(steps=5000, batch_size=16, lr=6e-4, warmup=200),
}


@dataclass
class PretrainConfig:
    config: str = "small"  # a MODEL_PRESETS name
    corpus: str | None = None  # a plain-text file, or None for the built-in corpus
    tokenizer: str = "char"
    num_docs: int = 60000  # built-in corpus: reviews to generate for training
    corpus_seed: int = 0
    steps: int | None = None  # None: the preset's
    batch_size: int | None = None
    lr: float | None = None
    warmup: int | None = None
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_batches: int = 8
    checkpoint_every: int = 200
    seed: int = 1
    device: str = "auto"
    compile: bool = False

    def resolved(self) -> PretrainConfig:
        """A copy with the preset's values in place of every None."""
        if self.config not in MODEL_PRESETS:
            raise unknown("model config", self.config, MODEL_PRESETS)
        values = asdict(self)
        for key, value in TRAIN_PRESETS[self.config].items():
            if values[key] is None:
                values[key] = value
        out = PretrainConfig(**values)
        for key in ("steps", "batch_size", "lr", "num_docs", "eval_every", "checkpoint_every"):
            check_positive(f"--{key.replace('_', '-')}", getattr(out, key))
        return out


def build_data(cfg: PretrainConfig, tokenizer, block_size: int):
    """(train ids, val ids, entropy rate or None): one token stream, documents between EOTs."""
    if cfg.corpus is None:
        train_docs = generate_reviews(cfg.num_docs, seed=cfg.corpus_seed)
        val_docs = generate_reviews(max(cfg.num_docs // 20, 200), seed=cfg.corpus_seed + 10**6)

        def stream(docs):
            ids = []
            for d in docs:
                ids += [tokenizer.eot_id] + tokenizer.encode(d.text)
            return torch.tensor(ids + [tokenizer.eot_id], dtype=torch.long)

        return stream(train_docs), stream(val_docs), entropy_rate(val_docs, tokenizer.encode)
    ids = torch.tensor(tokenizer.encode(read_text_corpus(cfg.corpus)), dtype=torch.long)
    n_val = max(len(ids) // 10, block_size + 2)  # a window and its next token
    if len(ids) - n_val < block_size + 2:
        raise ConfigError(
            f"corpus '{cfg.corpus}' has {len(ids)} tokens, too few for a context of "
            f"{block_size} (need at least {2 * (block_size + 2)}); use a longer text"
        )
    return ids[:-n_val], ids[-n_val:], None


def get_batch(ids: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator):
    """Random windows x = ids[o : o+T] and their next tokens y = ids[o+1 : o+T+1]."""
    offsets = torch.randint(len(ids) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([ids[o : o + block_size] for o in offsets.tolist()])
    y = torch.stack([ids[o + 1 : o + 1 + block_size] for o in offsets.tolist()])
    return x, y


def eval_starts(ids: torch.Tensor, block_size: int, n: int, eot_id: int | None) -> list[int]:
    """n evenly spaced window starts in the validation stream. With eot_id, windows start at
    document boundaries: every predicted token then sees its whole document so far, and the
    loss is comparable with the corpus's entropy rate."""
    last = len(ids) - block_size - 1
    if eot_id is None:
        return torch.linspace(0, last, n).long().tolist()
    boundaries = (ids[: last + 1] == eot_id).nonzero().squeeze(-1)
    pick = torch.linspace(0, len(boundaries) - 1, min(n, len(boundaries))).long()
    return boundaries[pick].tolist()


@torch.no_grad()
def evaluate(model: GPT, ids: torch.Tensor, starts: list[int], batch_size: int, autocast) -> float:
    """Mean next-token loss over the validation windows that begin at `starts`."""
    T = model.config.block_size
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for b in range(0, len(starts), batch_size):
        chunk = starts[b : b + batch_size]
        x = torch.stack([ids[o : o + T] for o in chunk])
        y = torch.stack([ids[o + 1 : o + 1 + T] for o in chunk])
        with autocast():
            _, loss = model(x.to(device), y.to(device))
        total, count = total + loss.item() * len(chunk), count + len(chunk)
    model.train(was_training)
    return total / count


def lr_at(step: int, cfg: PretrainConfig) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.lr * (
        cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def make_optimizer(model: GPT, lr: float, weight_decay: float, device: torch.device):
    """AdamW; weight decay on matrices only (not on biases, LayerNorm gains)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=device.type == "cuda")


def pretrain(
    cfg: PretrainConfig, run: RunDir, on_step: Callable[[int, dict], None] | None = None
) -> dict:
    """Train from scratch (or resume the run's last checkpoint); returns the summary."""
    cfg = cfg.resolved()
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    tokenizer = get_tokenizer(cfg.tokenizer)
    model_config = GPTConfig(vocab_size=tokenizer.vocab_size, **MODEL_PRESETS[cfg.config])
    model = GPT(model_config).to(device)
    train_ids, val_ids, h_rate = build_data(cfg, tokenizer, model_config.block_size)
    T, n_eval = model_config.block_size, cfg.batch_size * cfg.eval_batches
    eot = tokenizer.eot_id if cfg.corpus is None else None
    starts = eval_starts(val_ids, T, n_eval, eot)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, device)
    data_rng = torch.Generator().manual_seed(cfg.seed)
    step = 0
    state = run.load_latest_checkpoint()
    if state is not None:
        check_compatible(state, model_config, tokenizer, f"checkpoint of run '{run.path}'")
        step = restore_training(state, model, optimizer, {"data_rng": data_rng})
    fast = torch.compile(model) if cfg.compile else model
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

        def autocast():
            return torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        autocast = nullcontext

    def save(step: int) -> None:
        run.save_checkpoint(
            training_state(model, tokenizer, "pretrain", step, optimizer, {"data_rng": data_rng}),
            step,
        )

    tokens_per_step = cfg.batch_size * model_config.block_size
    start_time, start_step = time.time(), step
    model.train()
    while step < cfg.steps:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_ids, cfg.batch_size, model_config.block_size, data_rng)
        with autocast():
            _, loss = fast(x.to(device), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        metrics = {
            "train_loss": loss.item(),
            "lr": lr,
            "grad_norm": grad_norm.item(),
            "tokens": step * tokens_per_step,
        }
        if step % cfg.eval_every == 0 or step == cfg.steps:
            metrics["val_loss"] = evaluate(model, val_ids, starts, cfg.batch_size, autocast)
            if h_rate is not None:
                metrics["entropy_rate"] = h_rate
            elapsed = time.time() - start_time
            metrics["tokens_per_s"] = (step - start_step) * tokens_per_step / max(elapsed, 1e-9)
        run.log(step, metrics)
        if on_step is not None:
            on_step(step, metrics)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save(step)
    final_starts = eval_starts(val_ids, T, 4 * n_eval, eot)  # the final number: 4x the windows
    val_loss = evaluate(model, val_ids, final_starts, cfg.batch_size, autocast)
    summary = {
        "val_loss": val_loss,
        "entropy_rate": h_rate,
        "gap_nats_per_token": None if h_rate is None else val_loss - h_rate,
        "steps": step,
        "tokens": step * tokens_per_step,
        "wall_time_s": time.time() - start_time,
        "params": model.num_params(),
        "device": str(device),
    }
    if cfg.corpus is None:  # fluency is measured in the built-in grammar
        summary.update(sample_fluency(model, tokenizer, n=32, seed=cfg.seed))
    run.write_summary(summary)
    return summary
