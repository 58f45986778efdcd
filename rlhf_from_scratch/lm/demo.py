"""`rlhf demo`: the whole of InstructGPT on the built-in corpus, in minutes on a CPU.

Lectures: ../shared/seeds/000 (InstructGPT's three steps) and 001 (KL-control).

    1. pretrain     a small GPT on generated reviews                   (lm/pretrain.py)
    2. SFT          on instruction/response demonstrations              (lm/sft.py)
    3. comparisons  K SFT samples per prompt, ranked by the gold labeler (lm/reward_model.py)
       reward model Bradley-Terry over the K choose 2 pairs, normalised (lm/reward_model.py)
    4. RL           PPO (or --algo) against r_theta - beta r_KL         (lm/rlhf.py)
       --compare:   DPO on the same comparisons, best-of-n, expert iteration (lecture 003)
    5. report       gold reward before/after, KL, grammar, win rate vs SFT, samples, PNGs

Each stage is its own run directory under the demo's; a stage with a summary.json is not
run again, so a killed demo continues with --resume. The budgets are far below the stages'
own defaults (DEMO_SIZES) so that the whole runs in about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rlhf_from_scratch.lm.best_of_n import BestOfNConfig, best_of_n_run
from rlhf_from_scratch.lm.dpo import DPOConfig, dpo
from rlhf_from_scratch.lm.expert_iteration import ExpertIterationConfig, expert_iteration
from rlhf_from_scratch.lm.gold import win_rate
from rlhf_from_scratch.lm.pretrain import PretrainConfig, pretrain
from rlhf_from_scratch.lm.report import metrics_table, plot_rlhf, samples_markdown
from rlhf_from_scratch.lm.reward_model import RMConfig, train_reward_model
from rlhf_from_scratch.lm.rlhf import RLHFConfig, rlhf
from rlhf_from_scratch.lm.sft import SFTConfig, sft
from rlhf_from_scratch.utils.errors import unknown
from rlhf_from_scratch.utils.rundir import RunDir, write_json_atomic

# Stage budgets: "default" fits ~10 minutes on 2 CPU cores; "smoke" is for the tests.
DEMO_SIZES: dict[str, dict[str, dict]] = {
    "default": {
        "pretrain": dict(config="small", num_docs=20000, steps=500, eval_every=500,
                         checkpoint_every=500),
        "sft": dict(steps=150, batch_size=16, eval_every=150, checkpoint_every=150,
                    num_eval_prompts=24),
        "rm": dict(num_prompts=160, k=4, max_new_tokens=120, epochs=3),
        "rlhf": dict(updates=20, prompts_per_update=8, samples_per_prompt=4,
                     max_new_tokens=120, eval_every=5, checkpoint_every=5,
                     num_eval_prompts=48, lr=3e-5),  # smaller steps than `lm rlhf`'s 1e-4
        "dpo": dict(epochs=2, max_new_tokens=120, num_eval_prompts=48, eval_every=1000,
                    checkpoint_every=20),
        "best_of_n": dict(n=16, num_eval_prompts=48, max_new_tokens=120),
        "expert_iteration": dict(rounds=2, prompts_per_round=64, n=8, max_new_tokens=120,
                                 num_eval_prompts=48),
    },
    "smoke": {
        "pretrain": dict(config="tiny", num_docs=300, steps=20, eval_every=20,
                         checkpoint_every=20),
        "sft": dict(steps=10, eval_every=10, checkpoint_every=10, num_eval_prompts=4),
        "rm": dict(num_prompts=12, k=3, max_new_tokens=32, epochs=1),
        "rlhf": dict(updates=2, prompts_per_update=2, samples_per_prompt=2,
                     max_new_tokens=32, eval_every=2, checkpoint_every=2,
                     num_eval_prompts=4),
        "dpo": dict(epochs=1, max_new_tokens=32, num_eval_prompts=4),
        "best_of_n": dict(n=4, num_eval_prompts=4, max_new_tokens=32),
        "expert_iteration": dict(rounds=1, prompts_per_round=3, n=2, max_new_tokens=32,
                                 num_eval_prompts=4),
    },
}  # fmt: skip


@dataclass
class DemoConfig:
    size: str = "default"
    algo: str = "ppo"
    kl_coef: float = 0.2  # with 0.05 the demo's small models hack the RM ("I lov.")
    kl_target: float | None = None
    hacking: bool = False  # also run beta = 0 (naive RL fine-tuning) beside the KL run
    compare: bool = False  # also DPO, best-of-n and expert iteration (lecture 003)
    seed: int = 1  # seeds every stage
    device: str = "auto"


def _stage(path: Path, config: dict, resume: bool, fn) -> tuple[dict, bool]:
    """Run one stage in its run directory, unless it already finished (summary.json)."""
    summary_file = path / "summary.json"
    if summary_file.exists():
        import json

        return json.loads(summary_file.read_text()), False
    run = RunDir(path, config, resume=resume or (path / "config.json").exists())
    try:
        return fn(run), True
    finally:
        run.close()


def demo(
    cfg: DemoConfig,
    root: str | Path,
    resume: bool = False,
    on_stage: Callable[[str, int], Callable[[int, dict], None] | None] | None = None,
) -> dict:
    """Run the pipeline under `root`; returns the summary (also written to summary.json).

    on_stage(name, total_steps) may return an on_step callback for that stage (a progress
    bar in the command line).
    """
    if cfg.size not in DEMO_SIZES:
        raise unknown("demo size", cfg.size, DEMO_SIZES)
    root = Path(root)
    size = DEMO_SIZES[cfg.size]
    RunDir(root, {"command": "demo", **asdict(cfg)}, resume=resume, tensorboard=False).close()
    start = time.time()
    times: dict[str, float] = {}

    def hook(name: str, total: int):
        return on_stage(name, total) if on_stage is not None else None

    def timed(name: str, path: Path, config: dict, fn) -> dict:
        t = time.time()
        summary, ran = _stage(path, {"command": f"demo {name}", **config}, resume, fn)
        times[name] = time.time() - t if ran else summary.get("wall_time_s", 0.0)
        return summary

    pre_cfg = PretrainConfig(**size["pretrain"], seed=cfg.seed, device=cfg.device).resolved()
    pre = timed("pretrain", root / "pretrain", asdict(pre_cfg),
                lambda run: pretrain(pre_cfg, run, hook("pretrain", pre_cfg.steps)))  # fmt: skip
    sft_cfg = SFTConfig(init=str(root / "pretrain"), **size["sft"], seed=cfg.seed,
                        device=cfg.device)  # fmt: skip
    sft_summary = timed("sft", root / "sft", asdict(sft_cfg),
                        lambda run: sft(sft_cfg, run, hook("sft", sft_cfg.steps)))  # fmt: skip
    rm_cfg = RMConfig(policy=str(root / "sft"), **size["rm"], seed=cfg.seed, device=cfg.device)
    rm = timed("reward_model", root / "rm", asdict(rm_cfg),
               lambda run: train_reward_model(rm_cfg, run, hook("reward model", 0)))  # fmt: skip

    def rl_config(beta: float) -> RLHFConfig:
        return RLHFConfig(policy=str(root / "sft"), reward_model=str(root / "rm"),
                          algo=cfg.algo, kl_coef=beta,
                          kl_target=cfg.kl_target if beta > 0 else None,
                          **size["rlhf"], seed=cfg.seed, device=cfg.device)  # fmt: skip

    rl_cfg = rl_config(cfg.kl_coef)
    rl = timed("rlhf", root / "rlhf", asdict(rl_cfg),
               lambda run: rlhf(rl_cfg, run, hook(f"RL ({cfg.algo})", rl_cfg.updates)))  # fmt: skip
    runs = {f"{cfg.algo}, beta {cfg.kl_coef}": root / "rlhf"}
    hacked = None
    if cfg.hacking:
        hack_cfg = rl_config(0.0)
        hacked = timed("rlhf_beta0", root / "rlhf-beta0", asdict(hack_cfg),
                       lambda run: rlhf(hack_cfg, run, hook("RL beta=0", hack_cfg.updates)))  # fmt: skip
        runs[f"{cfg.algo}, beta 0 (no KL penalty)"] = root / "rlhf-beta0"
    compared = {}
    if cfg.compare:
        common = dict(policy=str(root / "sft"), seed=cfg.seed, device=cfg.device)
        dpo_cfg = DPOConfig(preferences=str(root / "rm"), **size["dpo"], **common)
        done = timed("dpo", root / "dpo", asdict(dpo_cfg),
                     lambda run: dpo(dpo_cfg, run, hook("DPO", 0)))  # fmt: skip
        compared["DPO"] = {**done["after"], "win_rate": win_rate_of(done)}
        bon_cfg = BestOfNConfig(reward_model=str(root / "rm"), **size["best_of_n"], **common)
        on_step = hook("best-of-n", bon_cfg.num_eval_prompts)
        done = timed("best_of_n", root / "best-of-n", asdict(bon_cfg),
                     lambda run: best_of_n_run(bon_cfg, run, on_step and (
                         lambda n: on_step(n, {}))))  # fmt: skip
        best = done["rows"][-1]
        compared[f"best-of-{best['n']}"] = {**best, "kl": best["kl_bound"]}
        ei_cfg = ExpertIterationConfig(
            reward_model=str(root / "rm"), **size["expert_iteration"], **common
        )
        done = timed("expert_iteration", root / "expert-iteration", asdict(ei_cfg),
                     lambda run: expert_iteration(ei_cfg, run, hook("expert iteration",
                                                                    ei_cfg.rounds)))  # fmt: skip
        compared["expert iteration"] = {**done["after"], "win_rate": win_rate_of(done)}
    png = plot_rlhf(runs, root / "rlhf_curves.png", "RLHF of the demo GPT")
    summary = {
        "pretrain_val_loss": pre["val_loss"],
        "sft_gold_instruction": sft_summary["after_sft"]["gold_instruction"],
        "rm_held_out_accuracy": rm["held_out_accuracy"],
        "rm_comparisons": rm["comparisons"],
        "before": {k: v for k, v in rl["before"].items() if k != "samples"},
        "after": {k: v for k, v in rl["after"].items() if k != "samples"}
        | {"win_rate": win_rate_of(rl)},
        "samples_before": rl["before"]["samples"],
        "samples_after": rl["after"]["samples"],
        "stage_times_s": times,
        "wall_time_s": sum(times.values()),
        "this_session_s": time.time() - start,
        "figure": png.name,
    }
    if hacked is not None:
        summary["beta0_after"] = {k: v for k, v in hacked["after"].items() if k != "samples"}
        summary["beta0_after"]["win_rate"] = win_rate_of(hacked)
        summary["beta0_samples"] = hacked["after"]["samples"]
    if compared:
        summary["compared"] = {
            name: {k: v for k, v in row.items() if k != "samples"} for name, row in compared.items()
        }
    write_json_atomic(root / "summary.json", summary)
    write_report(root, cfg, summary, rm, hacked)
    return summary


def win_rate_of(summary: dict) -> float:
    """A trained model's win rate against the SFT model on the held-out prompts: its
    evaluation answers ("after") against the SFT model's ("before"), same prompts and seed."""
    return win_rate(
        [s["gold"] for s in summary["after"]["samples"]],
        [s["gold"] for s in summary["before"]["samples"]],
    )


def write_report(root: Path, cfg: DemoConfig, summary: dict, rm: dict, hacked) -> Path:
    """RUN_DIR/report.md: the numbers, the figure and before/after samples."""
    rows = {"SFT (before RL)": {**summary["before"], "win_rate": 0.5},
            f"RLHF ({cfg.algo})": summary["after"]}  # fmt: skip
    if hacked is not None:
        rows[f"{cfg.algo}, beta = 0"] = summary["beta0_after"]
    rows.update(summary.get("compared", {}))
    times = ", ".join(f"{k} {v:.0f} s" for k, v in summary["stage_times_s"].items())
    text = [
        "# rlhf demo",
        "",
        f"Size `{cfg.size}`, algorithm `{cfg.algo}`, beta {cfg.kl_coef}"
        + (f" (adaptive, target {cfg.kl_target} nats)" if cfg.kl_target else " (fixed)")
        + f", seed {cfg.seed}. Wall time {summary['wall_time_s']:.0f} s ({times}).",
        "",
        f"Reward model: {rm['comparisons']} comparisons from {rm['rankings']} rankings of "
        f"K = {rm['k']} SFT samples by the gold `{rm['gold']}` labeler; held-out accuracy "
        f"{rm['held_out_accuracy']:.3f} (before training {rm['held_out_accuracy_before']:.3f}).",
        "",
        "Held-out prompts, one sample each (gold reward = the gold labeler's score; win rate = "
        "how often the gold labeler prefers the model's answer to the SFT model's, ties half; "
        "KL in nats per response, for best-of-n log n - (n-1)/n; grammar = fraction of "
        "sentences that parse):",
        "",
        metrics_table(rows),
        "",
        f"![curves]({summary['figure']})",
        "",
        "## Samples: the same prompts before and after RL",
        "",
        samples_markdown(
            {"samples": summary["samples_before"]}, {"samples": summary["samples_after"]}
        ),
    ]
    if hacked is not None:
        text += [
            "## Without the KL penalty (beta = 0)",
            "",
            samples_markdown(
                {"samples": summary["samples_before"]}, {"samples": summary["beta0_samples"]}
            ),
        ]
    out = root / "report.md"
    out.write_text("\n".join(text) + "\n")
    return out
