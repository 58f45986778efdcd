"""`rlhf lm ...`: the language-model commands.

rlhf lm pretrain --run-dir runs/lm-pretrain                  (CPU, a few minutes)
rlhf lm pretrain --config gpt2-small --device cuda --compile  (GPU)
rlhf lm sft --init runs/lm-pretrain --run-dir runs/lm-sft
rlhf lm sample --checkpoint runs/lm-sft --prompt "Write a positive review of the bakery."
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from pathlib import Path

from rlhf_from_scratch.utils.errors import ConfigError


def add_commands(subparsers) -> None:
    from rlhf_from_scratch.lm.pretrain import MODEL_PRESETS
    from rlhf_from_scratch.lm.tokenizer import TOKENIZERS

    lm = subparsers.add_parser("lm", help="the language-model world: pretrain, sft, sample")
    sub = lm.add_subparsers(dest="lm_command", metavar="LM_COMMAND", required=True)

    def common(p: argparse.ArgumentParser, run_dir: str) -> None:
        p.add_argument("--run-dir", default=run_dir, help="where config, metrics, checkpoints go")
        p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--device", default="auto", help="cpu, cuda or auto")
        p.add_argument("--steps", type=int, default=None)
        p.add_argument("--batch-size", type=int, default=None)
        p.add_argument("--lr", type=float, default=None)
        p.add_argument("--eval-every", type=int, default=None)
        p.add_argument("--checkpoint-every", type=int, default=None)
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("pretrain", help="train a GPT from scratch on a corpus")
    common(p, "runs/lm-pretrain")
    p.add_argument("--config", default="small", help=f"model size: {', '.join(MODEL_PRESETS)}")
    p.add_argument(
        "--corpus", default=None, help="a plain-text file (default: the built-in corpus)"
    )
    p.add_argument("--tokenizer", default="char", help=f"one of {', '.join(TOKENIZERS)}")
    p.add_argument(
        "--num-docs", type=int, default=None, help="built-in corpus: reviews to train on"
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("sft", help="fine-tune a pretrained GPT on demonstrations")
    common(p, "runs/lm-sft")
    p.add_argument("--init", required=True, help="pretraining run directory or checkpoint file")
    p.add_argument("--tokenizer", default=None, help="must match the checkpoint's, if given")
    p.add_argument("--num-demos", type=int, default=None)
    p.add_argument("--num-eval-prompts", type=int, default=None)
    p.set_defaults(func=cmd_sft)

    p = sub.add_parser("sample", help="complete prompts and show their gold scores")
    p.add_argument("--checkpoint", required=True, help="a run directory or checkpoint file")
    p.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    p.add_argument("--prompts-file", default=None, help="a file with one prompt per line")
    p.add_argument("--num-samples", type=int, default=1, help="completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--tokenizer", default=None, help="must match the checkpoint's, if given")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_sample)


def _overrides(args: argparse.Namespace, keys: list[str]) -> dict:
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)


def _progress(total: int, enabled: bool, keys: tuple[str, ...]):
    """A tqdm bar and the on_step callback that moves it."""
    from tqdm import tqdm

    bar = tqdm(total=total, disable=not enabled, dynamic_ncols=True)

    def on_step(step: int, metrics: dict) -> None:
        bar.n = step
        shown = {k: f"{metrics[k]:.3f}" for k in keys if k in metrics}
        if shown:
            bar.set_postfix(shown, refresh=False)
        bar.refresh()

    return bar, on_step


def cmd_pretrain(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.pretrain import PretrainConfig, pretrain
    from rlhf_from_scratch.utils.rundir import RunDir

    keys = [
        "config",
        "corpus",
        "tokenizer",
        "num_docs",
        "steps",
        "batch_size",
        "lr",
        "eval_every",
        "checkpoint_every",
        "seed",
        "device",
        "compile",
    ]
    _threads(args)
    cfg = PretrainConfig(**_overrides(args, keys)).resolved()
    run = RunDir(args.run_dir, {"command": "lm pretrain", **asdict(cfg)}, resume=args.resume)
    bar, on_step = _progress(cfg.steps, not args.no_progress, ("train_loss", "val_loss"))
    try:
        summary = pretrain(cfg, run, on_step)
    finally:
        bar.close()
        run.close()
    line = f"val loss {summary['val_loss']:.4f} nats/token"
    if summary["entropy_rate"] is not None:
        line += f" (corpus entropy rate {summary['entropy_rate']:.4f})"
    print(f"{line}; {summary['steps']} steps in {summary['wall_time_s']:.0f} s -> {run.path}")
    for text in summary.get("samples", [])[:2]:
        print(f"  sample: {text!r}")


def cmd_sft(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.sft import SFTConfig, sft
    from rlhf_from_scratch.utils.rundir import RunDir

    keys = [
        "init",
        "tokenizer",
        "num_demos",
        "steps",
        "batch_size",
        "lr",
        "eval_every",
        "num_eval_prompts",
        "checkpoint_every",
        "seed",
        "device",
    ]
    _threads(args)
    cfg = SFTConfig(**_overrides(args, keys))
    run = RunDir(args.run_dir, {"command": "lm sft", **asdict(cfg)}, resume=args.resume)
    bar, on_step = _progress(cfg.steps, not args.no_progress, ("train_loss", "gold_instruction"))
    try:
        summary = sft(cfg, run, on_step)
    finally:
        bar.close()
        run.close()
    b, a = summary["before_sft"], summary["after_sft"]
    print(
        f"instruction following {b['gold_instruction']:.2f} -> {a['gold_instruction']:.2f}, "
        f"grammar {b['gold_grammar']:.2f} -> {a['gold_grammar']:.2f} -> {run.path}"
    )
    for text in a["samples"][:2]:
        print(f"  sample: {text!r}")


def cmd_sample(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm import gold
    from rlhf_from_scratch.lm.checkpoint import load_model, resolve_device
    from rlhf_from_scratch.lm.corpus import format_prompt
    from rlhf_from_scratch.lm.sample import complete

    prompts = list(args.prompt)
    if args.prompts_file:
        path = Path(args.prompts_file)
        if not path.is_file():
            raise ConfigError(f"prompts file '{path}' does not exist")
        prompts += [line for line in path.read_text().splitlines() if line.strip()]
    if args.num_samples < 1:
        raise ConfigError(f"--num-samples must be >= 1, got {args.num_samples}")
    model, tokenizer, state = load_model(args.checkpoint, args.tokenizer)
    model.to(resolve_device(args.device))
    is_sft = state.get("kind") == "sft"
    if not prompts:  # a pretrained model writes freely; an SFT model gets two instructions
        prompts = (
            [
                "Write a positive review of the bakery in two sentences.",
                "Write a negative review of the old inn.",
            ]
            if is_sft
            else [""]
        )
    shown = [format_prompt(p) if is_sft else p for p in prompts for _ in range(args.num_samples)]
    texts = complete(
        model,
        tokenizer,
        shown,
        args.max_new_tokens,
        args.temperature,
        args.top_k,
        args.top_p,
        seed=args.seed,
    )
    for prompt, text in zip(shown, texts, strict=True):
        scores = gold.all_scores(prompt, text)
        parts = [f"{k} {v:+.2f}" for k, v in scores.items() if not math.isnan(v)]
        print(f"--- {prompt!r}\n{text}\n[gold: {', '.join(parts)}]")
