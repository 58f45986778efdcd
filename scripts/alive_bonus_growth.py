"""Does the learned alive bonus grow with refits alone? A fresh ensemble refitted on fixed labels.

    python scripts/alive_bonus_growth.py RUN_DIR [--refits 60] [--weight-decay 1e-4] [--seed 0]
        [--keep-adam]

With `--absorbing` r_hat is measured from r_abs, the reward of the state after an episode's
end, in units of r_hat's std over the live steps of recent clips (reward_model's `normalize`);
the learner gets it through the return scaling (the default with `--absorbing` since session
48) or as it is. On CartPole its mean per live step, `rm_reward_mean` in metrics.jsonl (the
learned alive bonus), grows through a run (benchmarks/preferences/four_algorithms). This takes
the run's labels as they are at the end, fits a fresh ensemble (the run's own settings but
`--weight-decay`) to them `--refits` times, each a refit as training makes one when labels
arrive (`epochs` passes, warm-started), and prints after some of the refits the mean r_hat over
the labelled clips' live steps and the held-out accuracy. The labels never change here: if the
bonus still grows, it grows with the number of refits, not with what the labels say.

Each refit starts a fresh Adam per member, as training does. `--keep-adam` keeps each member's
Adam from refit to refit instead (its moment estimates carried on): a test of whether the fresh
optimiser's steps, whose size does not shrink with the vanishing gradient of decided pairs, are
what keeps the bonus growing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reward_model_drift import clip_steps, load_preference_run  # noqa: E402  (sibling script)

from rlhf_from_scratch.preferences.reward_model import RewardEnsemble  # noqa: E402
from rlhf_from_scratch.utils.errors import ConfigError  # noqa: E402

SHOWN = (1, 2, 5, 10, 20, 40, 60, 100, 200)


def growth(
    run_dir: Path,
    refits: int = 60,
    weight_decay: float = 1e-4,
    seed: int = 0,
    keep_adam: bool = False,
) -> list:
    """[(refit, mean r_hat per live step, held-out accuracy)] after the refits in SHOWN
    and the last."""
    _, _, learner = load_preference_run(run_dir)
    labelled = learner.store.segment_pairs()
    learner.store.close()
    config = replace(learner.ensemble.config, weight_decay=weight_decay)
    if not config.absorbing:
        raise ConfigError(f"'{run_dir}' was not run with --absorbing: it learned no alive bonus")
    if not labelled:
        raise ConfigError(f"'{run_dir}': its preference store holds no labels")
    first = learner.ensemble.members[0]
    if first.image:
        raise ConfigError(f"'{run_dir}' reads frames: this script refits vector observations")
    obs_shape = (first.in_mean.numel(),)
    ensemble = RewardEnsemble(obs_shape, first.action_dim, first.discrete, config, seed)
    clips = [s for _, a, b, _ in labelled for s in (a, b)]
    obs, actions, _ = clip_steps(clips)
    rows = []
    for refit in range(1, refits + 1):
        metrics = ensemble.fit(labelled, clips, fresh_optimizers=not keep_adam)
        if refit in SHOWN or refit == refits:
            pay = ensemble.reward(obs.float(), actions).mean().item()
            rows.append((refit, pay, metrics.get("rm_val_accuracy", float("nan"))))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a preference run's directory")
    parser.add_argument("--refits", type=int, default=60)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep-adam", action="store_true", help="keep each member's Adam across refits"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = growth(args.run, args.refits, args.weight_decay, args.seed, args.keep_adam)
    adam = "Adam kept across refits" if args.keep_adam else "a fresh Adam each refit"
    print(f"{args.run.name}, weight decay {args.weight_decay:g}, {adam}\n")
    print("| refits | r_hat per live step | held-out accuracy |")
    print("|---|---|---|")
    for refit, pay, acc in rows:
        print(f"| {refit} | {pay:.2f} | {'-' if np.isnan(acc) else f'{acc:.2f}'} |")


if __name__ == "__main__":
    main()
