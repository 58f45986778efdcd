"""How PPO's gradient clip weighs the policy against the value function, minibatch by minibatch.

    python scripts/ppo_gradient_split.py OUT_DIR -- --env Hopper-v5 --total-steps 150000 ...

Trains PPO with the given `rlhf train` flags (the run directory is OUT_DIR/run) and records, for
every minibatch, the gradient norm of the policy's parameters (`actor_*`, `log_std`; a shared
trunk counts here), of the value function's (`critic_*`), both before the clip, and the factor
the global clip multiplies every gradient by, min(1, max_grad_norm / ||g||). One line per update
goes to OUT_DIR/gradient_split.jsonl; a markdown table of every ~8th update is printed.

Why: the loss is policy + c1 value - c2 entropy, clipped as one vector, so a large value loss
(unscaled returns, e.g. r_hat with an alive bonus) shrinks the policy's step too. Adam divides
each parameter's step by the running size of its own gradient, so a factor that is the same for
every minibatch cancels; only its variation between minibatches reweights them. The table shows
both: the factor, and the effective sample size of the factors within each update (1.0: all
minibatches weighed alike).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rlhf_from_scratch.algos import common, ppo
from rlhf_from_scratch.cli import main as rlhf_main


def effective_sample_size(weights: np.ndarray) -> float:
    """(sum w)^2 / sum w^2 as a fraction of len(w): 1.0 when all weights are equal."""
    return float(weights.sum() ** 2 / (weights**2).sum() / len(weights))


def summarise(update: int, rows: np.ndarray) -> dict:
    """One update's minibatches [n, 3] (||g_pi||, ||g_v||, clip factor) in a few numbers."""
    g_pi, g_v, factor = rows.T
    return {
        "update": update,
        "minibatches": len(rows),
        "g_pi_median": float(np.median(g_pi)),
        "g_v_median": float(np.median(g_v)),
        "factor_median": float(np.median(factor)),
        "factor_max_over_min": float(factor.max() / factor.min()),
        "ess": effective_sample_size(factor),
    }


def record(out_dir: Path, train_flags: list[str]) -> list[dict]:
    """Train with the flags, patched to record every minibatch; returns one summary per update."""
    critic: set[int] = set()  # ids of the value function's parameters
    rows: list[list[float]] = []
    summaries: list[dict] = []
    update, clip = ppo.PPO.update, common.FlatAdam.clip_grad_norm
    log = (out_dir / "gradient_split.jsonl").open("w")

    def recording_update(self, batch, generator=None):
        if not critic:
            critic.update(
                id(p) for n, p in self.policy.named_parameters() if n.startswith("critic")
            )
        rows.clear()
        metrics = update(self, batch, generator)
        summaries.append(summarise(self.updates, np.array(rows)))
        log.write(json.dumps({**summaries[-1], "rows": rows}) + "\n")
        log.flush()
        return metrics

    def recording_clip(self, max_norm):
        squares = {"policy": 0.0, "value": 0.0}
        for p in self.params:
            part = "value" if id(p) in critic else "policy"
            squares[part] += float(p.grad.pow(2).sum())
        norm = clip(self, max_norm)
        factor = min(1.0, max_norm / (float(norm) + 1e-6))
        rows.append([squares["policy"] ** 0.5, squares["value"] ** 0.5, factor])
        return norm

    ppo.PPO.update, common.FlatAdam.clip_grad_norm = recording_update, recording_clip
    try:
        rlhf_main(["train", "--algo", "ppo", *train_flags, "--run-dir", str(out_dir / "run")])
    finally:
        ppo.PPO.update, common.FlatAdam.clip_grad_norm = update, clip
        log.close()
    return summaries


def table(summaries: list[dict], every: int) -> str:
    lines = [
        "| update | median ‖g_pi‖ | median ‖g_v‖ | clip factor (median) | max/min | ESS |",
        "|---|---|---|---|---|---|",
    ]
    picked = summaries[::every] + ([summaries[-1]] if (len(summaries) - 1) % every else [])
    for s in picked:
        lines.append(
            f"| {s['update']} | {s['g_pi_median']:.3g} | {s['g_v_median']:.3g} | "
            f"{s['factor_median']:.3g} | {s['factor_max_over_min']:.2f} | {s['ess']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="a new folder: gradient_split.jsonl, run/")
    args = parser.parse_args(argv[:split])
    if args.out_dir.exists() and any(args.out_dir.iterdir()):
        parser.error(f"{args.out_dir} is not empty: give a new folder")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    summaries = record(args.out_dir, argv[split + 1 :])
    print(table(summaries, every=max(1, len(summaries) // 8)))


if __name__ == "__main__":
    main()
