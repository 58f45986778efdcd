"""`rlhf lm ...`: the language-model commands.

rlhf lm pretrain --run-dir runs/lm-pretrain                  (CPU, a few minutes)
rlhf lm pretrain --config gpt2-small --device cuda --compile  (GPU)
rlhf lm sft --init runs/lm-pretrain --run-dir runs/lm-sft
rlhf lm sample --checkpoint runs/lm-sft --prompt "Write a positive review of the bakery."
rlhf lm rm --policy runs/lm-sft --run-dir runs/lm-rm            (comparisons + reward model)
rlhf lm rlhf --policy runs/lm-sft --reward-model runs/lm-rm --algo ppo --run-dir runs/lm-ppo
rlhf lm dpo --policy runs/lm-sft --preferences runs/lm-rm --run-dir runs/lm-dpo
rlhf lm best-of-n --policy runs/lm-sft --reward-model runs/lm-rm --n 16
rlhf lm expert-iteration --policy runs/lm-sft --reward-model runs/lm-rm
rlhf demo                                  (pretrain -> SFT -> RM -> PPO, ~10 minutes on CPU)
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from pathlib import Path

from rlhf_from_scratch.utils.errors import ConfigError

# what the shared training flags do (a command may word one its own way)
COMMON_HELP = {
    "seed": "seeds the random draws: new weights, sampling, data order",
    "steps": "optimizer steps",
    "batch_size": "sequences per optimizer step",
    "lr": "learning rate",
    "eval_every": "evaluate every this many steps",
    "checkpoint_every": "save a checkpoint every this many steps",
}

# flags that set a config field of another name (cmd_rm, cmd_dpo, cmd_rlhf)
FLAG_FIELDS = {
    "rm": {"batch_size": "rankings_per_batch"},
    "dpo": {"batch_size": "rankings_per_batch"},
    "rlhf": {"steps": "updates"},
}


def add_commands(subparsers) -> None:
    from rlhf_from_scratch.lm.pretrain import MODEL_PRESETS
    from rlhf_from_scratch.lm.tokenizer import TOKENIZERS

    lm = subparsers.add_parser("lm", help="the language-model world: pretrain, sft, sample")
    sub = lm.add_subparsers(dest="lm_command", metavar="LM_COMMAND", required=True)

    def common(
        p: argparse.ArgumentParser,
        command: str,
        helps: dict[str, str] | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        """The flags the training commands share. `helps` words a flag for this command;
        `refused` names the flags this command has no use for, each with what to use instead:
        given, they stop the command with that advice rather than be ignored."""
        helps = {**COMMON_HELP, **(helps or {})}
        refused = refused or {}
        p.add_argument(
            "--run-dir", default=f"runs/lm-{command}", help="where config, metrics, checkpoints go"
        )
        p.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
        p.add_argument("--seed", type=int, default=1, help=helps["seed"])
        p.add_argument("--device", default="auto", help="cpu, cuda or auto")
        for flag, kind in (("steps", int), ("batch_size", int), ("lr", float),
                           ("eval_every", int), ("checkpoint_every", int)):  # fmt: skip
            name = "--" + flag.replace("_", "-")
            text = f"not used here: {refused[flag]}" if flag in refused else helps[flag]
            p.add_argument(name, type=kind, default=None, help=text)
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(refused=refused)

    p = sub.add_parser("pretrain", help="train a GPT from scratch on a corpus")
    preset = " (default: the --config preset's)"
    common(
        p,
        "pretrain",
        helps={
            "steps": COMMON_HELP["steps"] + preset,
            "batch_size": COMMON_HELP["batch_size"] + preset,
            "lr": "peak learning rate" + preset,
        },
    )
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
    common(p, "sft")
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
    p.add_argument("--max-new-tokens", type=int, default=160, help="most tokens per completion")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--top-k", type=int, default=None, help="sample from the k likeliest tokens")
    p.add_argument(
        "--top-p", type=float, default=None, help="sample from the likeliest tokens of mass p"
    )
    p.add_argument("--tokenizer", default=None, help="must match the checkpoint's, if given")
    p.add_argument("--seed", type=int, default=0, help="seeds the sampling")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("rm", help="rank SFT samples with the gold labeler, train a reward model")
    common(
        p,
        "rm",
        helps={"batch_size": "rankings per optimizer step (each gives K choose 2 pairs)"},
        refused={
            "steps": "it makes --epochs passes over the rankings",
            "eval_every": "it measures held-out accuracy after every epoch",
        },
    )
    p.add_argument("--policy", required=True, help="the SFT run directory (or checkpoint)")
    p.add_argument("--store", default=None, help="preference store (default RUN_DIR/...sqlite)")
    p.add_argument(
        "--gold", default=None, help="the ranking labeler: instruction, sentiment, grammar"
    )
    p.add_argument("--num-prompts", type=int, default=None, help="rankings to collect")
    p.add_argument("--k", type=int, default=None, help="responses ranked per prompt (K >= 2)")
    p.add_argument("--held-out", type=float, default=None, help="fraction of rankings held out")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument(
        "--labeler", default=None, help="gold (default) or ai: the --judge model ranks (RLAIF)"
    )
    p.add_argument("--judge", default=None, help="--labeler ai: a pretraining or SFT run")
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser("rlhf", help="RL of an SFT model against a reward model (--algo)")
    common(
        p,
        "rlhf",
        helps={
            "steps": "the same as --updates",
            "lr": "learning rate (default: the algorithm's LM setting)",
            "eval_every": "evaluate every this many updates",
            "checkpoint_every": "save a checkpoint every this many updates",
        },
        refused={
            "batch_size": "an update's batch is --prompts-per-update x --samples-per-prompt "
            "responses"
        },
    )
    p.add_argument("--policy", required=True, help="the SFT run directory (pi_SFT)")
    p.add_argument("--reward-model", default=None, help="the `rlhf lm rm` run directory")
    p.add_argument(
        "--ai-judge",
        default=None,
        help="direct RLAIF: a GPT run whose AI-labeler score is the reward",
    )
    p.add_argument("--algo", default="ppo", help="ppo, reinforce (RLOO), a2c or trpo")
    p.add_argument("--updates", type=int, default=None)
    p.add_argument("--prompts-per-update", type=int, default=None)
    p.add_argument("--samples-per-prompt", type=int, default=None, help="K (RLOO groups)")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--kl-coef", type=float, default=None, help="beta (initial when adaptive)")
    p.add_argument("--kl-target", type=float, default=None, help="adaptive KL target (nats)")
    p.add_argument("--kl-horizon", type=int, default=None)
    p.add_argument("--ptx-coef", type=float, default=None, help="PPO-ptx gamma (0 = off)")
    p.add_argument("--prompts-file", default=None, help="instructions, one per line")
    p.add_argument("--num-prompts", type=int, default=None)
    p.add_argument("--num-eval-prompts", type=int, default=None)
    p.add_argument("--gold", default=None, help="gold score (default: the reward model's)")
    p.add_argument("--prompts", default=None, help="prompt set (default: the reward model's)")
    p.set_defaults(func=cmd_rlhf)

    p = sub.add_parser("dpo", help="Direct Preference Optimization on the reward model's pairs")
    common(
        p,
        "dpo",
        helps={"batch_size": "rankings per optimizer step (all their pairs)"},
        refused={"steps": "it makes --epochs passes"},
    )
    p.add_argument("--policy", required=True, help="the SFT run directory (pi_ref)")
    p.add_argument(
        "--preferences", required=True, help="the `rlhf lm rm` run directory (its comparisons)"
    )
    p.add_argument("--beta", type=float, default=None, help="KL coefficient (default 0.1)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--held-out", type=float, default=None, help="fraction of rankings held out")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--num-eval-prompts", type=int, default=None)
    p.add_argument("--gold", default=None, help="gold score (default: the reward model's)")
    p.add_argument("--prompts", default=None, help="prompt set (default: the reward model's)")
    p.set_defaults(func=cmd_dpo)

    p = sub.add_parser(
        "expert-iteration", help="rounds of best-of-n + SFT on the kept responses (Llama 2's RS)"
    )
    every_round = "it evaluates and checkpoints after each of its --rounds"
    common(
        p,
        "expert-iteration",
        refused={
            "steps": "use --rounds, --epochs",
            "eval_every": every_round,
            "checkpoint_every": every_round,
        },
    )
    p.add_argument("--policy", required=True, help="the SFT run directory")
    p.add_argument("--reward-model", required=True, help="the `rlhf lm rm` run directory")
    p.add_argument("--rounds", type=int, default=None, help="default 2")
    p.add_argument("--prompts-per-round", type=int, default=None, help="default 64")
    p.add_argument("--n", type=int, default=None, help="samples per prompt (default 8)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the kept responses")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--num-eval-prompts", type=int, default=None)
    p.add_argument("--gold", default=None, help="gold score (default: the reward model's)")
    p.add_argument("--prompts", default=None, help="prompt set (default: the reward model's)")
    p.set_defaults(func=cmd_expert_iteration)

    p = sub.add_parser("best-of-n", help="best-of-n sampling against a reward model, n = 1..N")
    p.add_argument("--run-dir", default="runs/lm-best-of-n", help="where the table and plot go")
    p.add_argument("--policy", required=True, help="the SFT run directory (or any policy run)")
    p.add_argument("--reward-model", required=True, help="the `rlhf lm rm` run directory")
    p.add_argument("--n", type=int, default=None, help="the largest n (default 16)")
    p.add_argument("--num-eval-prompts", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--gold", default=None, help="gold score (default: the reward model's)")
    p.add_argument("--prompts", default=None, help="prompt set (default: the reward model's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_best_of_n)

    p = subparsers.add_parser(
        "demo", help="pretrain -> SFT -> comparisons -> reward model -> PPO, with a report"
    )
    p.add_argument("--run-dir", default="runs/demo", help="a folder with a run per stage")
    p.add_argument("--resume", action="store_true", help="continue the demo in --run-dir")
    p.add_argument("--size", default="default", help="default (~10 min on 2 CPU cores) or smoke")
    p.add_argument("--algo", default="ppo", help="ppo, reinforce (RLOO), a2c or trpo")
    p.add_argument("--kl-coef", type=float, default=None, help="beta")
    p.add_argument("--kl-target", type=float, default=None, help="adaptive KL target (nats)")
    p.add_argument("--hacking", action="store_true", help="also run beta = 0 (reward hacking)")
    p.add_argument(
        "--compare", action="store_true", help="also DPO, best-of-n, expert iteration (lecture 003)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)
    _describe(sub, subparsers)


def _describe(lm_commands, commands) -> None:
    """Each flag's help from the comment and default of the config field it sets."""
    from rlhf_from_scratch.lm.best_of_n import BestOfNConfig
    from rlhf_from_scratch.lm.demo import DemoConfig
    from rlhf_from_scratch.lm.dpo import DPOConfig
    from rlhf_from_scratch.lm.expert_iteration import ExpertIterationConfig
    from rlhf_from_scratch.lm.pretrain import PretrainConfig
    from rlhf_from_scratch.lm.reward_model import RMConfig
    from rlhf_from_scratch.lm.rlhf import RLHFConfig
    from rlhf_from_scratch.lm.sft import SFTConfig
    from rlhf_from_scratch.utils.config_help import describe_flags

    configs = {
        "pretrain": PretrainConfig,
        "sft": SFTConfig,
        "rm": RMConfig,
        "rlhf": RLHFConfig,
        "dpo": DPOConfig,
        "expert-iteration": ExpertIterationConfig,
        "best-of-n": BestOfNConfig,
    }
    for name, config_cls in configs.items():
        describe_flags(lm_commands.choices[name], config_cls, FLAG_FIELDS.get(name))
    describe_flags(commands.choices["demo"], DemoConfig)


def _overrides(args: argparse.Namespace, keys: list[str]) -> dict:
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _start(args: argparse.Namespace) -> None:
    """Refuse the shared flags this command has no use for (`common`), then set torch's
    thread count from --threads."""
    for flag, instead in getattr(args, "refused", {}).items():
        if getattr(args, flag) is not None:
            name = "--" + flag.replace("_", "-")
            raise ConfigError(f"{name} does not apply to lm {args.lm_command}: {instead}")
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


def _run_stage(args: argparse.Namespace, command: str, cfg, fn, total, keys: tuple[str, ...]):
    """Run fn(cfg, run, on_step) in the run directory --run-dir with a progress bar showing
    `keys`; returns (fn's summary, the run directory's path)."""
    from rlhf_from_scratch.utils.rundir import RunDir

    resume = getattr(args, "resume", False)  # best-of-n has nothing to resume
    run = RunDir(args.run_dir, {"command": command, **asdict(cfg)}, resume=resume)
    bar, on_step = _progress(total, not args.no_progress, keys)
    try:
        return fn(cfg, run, on_step), run.path
    finally:
        bar.close()
        run.close()


def cmd_pretrain(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.pretrain import PretrainConfig, pretrain

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
    _start(args)
    cfg = PretrainConfig(**_overrides(args, keys)).resolved()
    summary, path = _run_stage(
        args, "lm pretrain", cfg, pretrain, cfg.steps, ("train_loss", "val_loss")
    )
    line = f"val loss {summary['val_loss']:.4f} nats/token"
    if summary["entropy_rate"] is not None:
        line += f" (corpus entropy rate {summary['entropy_rate']:.4f})"
    print(f"{line}; {summary['steps']} steps in {summary['wall_time_s']:.0f} s -> {path}")
    for text in summary.get("samples", [])[:2]:
        print(f"  sample: {text!r}")


def cmd_sft(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.sft import SFTConfig, sft

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
    _start(args)
    cfg = SFTConfig(**_overrides(args, keys))
    summary, path = _run_stage(
        args, "lm sft", cfg, sft, cfg.steps, ("train_loss", "gold_instruction")
    )
    b, a = summary["before_sft"], summary["after_sft"]
    print(
        f"instruction following {b['gold_instruction']:.2f} -> {a['gold_instruction']:.2f}, "
        f"grammar {b['gold_grammar']:.2f} -> {a['gold_grammar']:.2f} -> {path}"
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
    is_sft = state.get("kind") in ("sft", "rlhf", "dpo", "expert_iteration")
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


def cmd_rm(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.reward_model import RMConfig, train_reward_model

    keys = ["policy", "store", "gold", "prompts", "num_prompts", "k", "held_out", "max_new_tokens",
            "epochs", "lr", "checkpoint_every", "seed", "device", "labeler", "judge"]  # fmt: skip
    _start(args)
    cfg = RMConfig(**_overrides(args, keys))
    if args.batch_size is not None:
        cfg.rankings_per_batch = args.batch_size
    cfg.validate()
    summary, path = _run_stage(
        args, "lm rm", cfg, train_reward_model, None, ("train_loss", "held_out_accuracy")
    )
    labels = "the AI labeler" if cfg.labeler == "ai" else f"the gold '{summary['gold']}' labeler"
    print(
        f"reward model: {summary['comparisons']} comparisons from {summary['rankings']} "
        f"rankings (K={summary['k']}); held-out accuracy {summary['held_out_accuracy_before']:.3f}"
        f" -> {summary['held_out_accuracy']:.3f} vs {labels} -> {path}"
    )
    if "labeler_agreement_with_gold" in summary:
        print(
            f"AI labeler: agrees with the gold labeler on {summary['labeler_agreement_with_gold']:.1%}"
            f" of the pairs; the reward model's held-out accuracy against the gold labeler "
            f"{summary['held_out_accuracy_vs_gold']:.3f}"
        )


def cmd_rlhf(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.rlhf import RLHFConfig, rlhf

    keys = ["policy", "reward_model", "ai_judge", "algo", "updates", "prompts_per_update",
            "samples_per_prompt", "max_new_tokens", "temperature", "kl_coef", "kl_target",
            "kl_horizon", "ptx_coef", "prompts_file", "num_prompts", "num_eval_prompts",
            "gold", "prompts", "lr", "eval_every", "checkpoint_every", "seed", "device"]  # fmt: skip
    _start(args)
    cfg = RLHFConfig(**_overrides(args, keys))
    if args.steps is not None:
        cfg.updates = args.steps
    cfg.validate()
    summary, path = _run_stage(args, "lm rlhf", cfg, rlhf, cfg.updates, ("rm_score", "kl", "beta"))
    _print_before_after(summary["before"], summary["after"])
    print(f"{cfg.algo}: {summary['updates']} updates in {summary['wall_time_s']:.0f} s -> {path}")


def cmd_dpo(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.dpo import DPOConfig, dpo

    keys = ["policy", "preferences", "beta", "epochs", "held_out", "max_new_tokens",
            "num_eval_prompts", "gold", "prompts", "lr", "eval_every", "checkpoint_every",
            "seed", "device"]  # fmt: skip
    _start(args)
    cfg = DPOConfig(**_overrides(args, keys))
    if args.batch_size is not None:
        cfg.rankings_per_batch = args.batch_size
    cfg.validate()
    summary, path = _run_stage(args, "lm dpo", cfg, dpo, None, ("train_loss", "train_accuracy"))
    before, after = summary["before"], summary["after"]
    _print_before_after(before, after)
    print(
        f"  {'held-out accuracy':<18} {before['held_out_accuracy']:7.3f} -> "
        f"{after['held_out_accuracy']:7.3f} (the implicit reward beta log pi/pi_ref)"
    )
    print(
        f"dpo: {summary['steps']} steps on {summary['comparisons']} comparisons in "
        f"{summary['wall_time_s']:.0f} s -> {path}"
    )


def cmd_expert_iteration(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.expert_iteration import ExpertIterationConfig, expert_iteration

    keys = ["policy", "reward_model", "rounds", "prompts_per_round", "n", "epochs",
            "batch_size", "lr", "max_new_tokens", "temperature", "num_eval_prompts", "gold",
            "prompts", "seed", "device"]  # fmt: skip
    _start(args)
    cfg = ExpertIterationConfig(**_overrides(args, keys))
    cfg.validate()
    summary, path = _run_stage(
        args, "lm expert-iteration", cfg, expert_iteration, cfg.rounds,
        ("kept_rm_score", "eval_kl"),
    )  # fmt: skip
    _print_before_after(summary["before"], summary["after"])
    print(
        f"expert iteration: {summary['rounds']} rounds, {summary['generations']} generations, "
        f"{summary['wall_time_s']:.0f} s -> {path}"
    )


def cmd_best_of_n(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.lm.best_of_n import BestOfNConfig, best_of_n_run

    keys = ["policy", "reward_model", "n", "num_eval_prompts", "max_new_tokens", "temperature",
            "gold", "prompts", "seed", "device"]  # fmt: skip
    _start(args)
    cfg = BestOfNConfig(**_overrides(args, keys))
    cfg.validate()
    summary, path = _run_stage(
        args, "lm best-of-n", cfg,
        lambda cfg, run, on_step: best_of_n_run(cfg, run, lambda done: on_step(done, {})),
        cfg.num_eval_prompts, (),
    )  # fmt: skip
    print(f"best-of-n against the gold '{summary['gold']}' labeler, held-out prompts:")
    print(f"  {'n':>4} {'KL (nats)':>9} {'RM score':>9} {'gold':>7} {'grammar':>8}")
    for r in summary["rows"]:
        print(
            f"  {r['n']:>4} {r['kl_bound']:>9.3f} {r['rm_score']:>9.3f} "
            f"{r['gold_reward']:>7.3f} {r['grammar']:>8.3f}"
        )
    print(
        f"{summary['generations']} generations in {summary['wall_time_s']:.0f} s -> {path} "
        "(best_of_n.png)"
    )


def _print_before_after(before: dict, after: dict, samples: int = 2) -> None:
    for key, name in (("gold_reward", "gold reward"), ("rm_score", "RM score"),
                      ("kl", "KL to SFT (nats)"), ("grammar", "grammaticality"),
                      ("repetition", "repetition")):  # fmt: skip
        print(f"  {name:<18} {before[key]:7.3f} -> {after[key]:7.3f}")
    for b, a in list(zip(before.get("samples", []), after.get("samples", []), strict=False))[
        :samples
    ]:
        print(f"  --- {b['prompt'].splitlines()[0]}")
        print(f"      before: {b['response']!r}")
        print(f"      after:  {a['response']!r}")


def cmd_demo(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from rlhf_from_scratch.lm.demo import DemoConfig, demo

    _start(args)
    cfg = DemoConfig(size=args.size, algo=args.algo, kl_target=args.kl_target,
                     hacking=args.hacking, compare=args.compare, seed=args.seed,
                     device=args.device)  # fmt: skip
    if args.kl_coef is not None:
        cfg.kl_coef = args.kl_coef
    bars = []

    def on_stage(name: str, total: int):
        for bar in bars:
            bar.close()
        bar = tqdm(total=total or None, desc=name, disable=args.no_progress, dynamic_ncols=True)
        bars.append(bar)

        def on_step(step: int, metrics: dict) -> None:
            bar.n = step
            bar.refresh()

        return on_step

    try:
        summary = demo(cfg, args.run_dir, args.resume, on_stage)
    finally:
        for bar in bars:
            bar.close()
    print(
        f"pretrain val loss {summary['pretrain_val_loss']:.3f}; SFT instruction following "
        f"{summary['sft_gold_instruction']:.2f}; reward model held-out accuracy "
        f"{summary['rm_held_out_accuracy']:.3f} ({summary['rm_comparisons']} comparisons)"
    )
    _print_before_after(
        {**summary["before"], "samples": summary["samples_before"]},
        {**summary["after"], "samples": summary["samples_after"]},
        samples=3,
    )
    if "beta0_after" in summary:
        print("  beta = 0 (no KL penalty): " + ", ".join(
            f"{k} {summary['beta0_after'][k]:.3f}" for k in ("gold_reward", "rm_score", "kl",
                                                           "grammar")))  # fmt: skip
    for name, row in summary.get("compared", {}).items():
        print(f"  {name}: " + ", ".join(
            f"{k} {row[k]:.3f}" for k in ("gold_reward", "win_rate", "kl", "grammar")))  # fmt: skip
    print(f"{summary['wall_time_s']:.0f} s; report: {Path(args.run_dir) / 'report.md'}")
