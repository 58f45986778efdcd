"""Whose play does a preference run's reward model rank higher: its own policy's, or another's?

    python scripts/reward_model_judges.py PREF_RUN OTHER_RUN... [--episodes 5] [--seed 1000]

A preference run that falls short of true-reward PPO falls short for one of two reasons: its
reward model does not rank the better play higher (r_hat's optimum lies elsewhere), or it does
and PPO did not reach that play. This plays each run's newest policy deterministically (as the
evaluation does) for `--episodes` episodes from the same env seeds, and scores every episode
two ways: its true return, and its return under PREF_RUN's final reward model (r_hat of the
executed action, as the learner is given it, alive bonus included, summed over the episode).
If another policy's play has more true return and more r_hat return than PREF_RUN's own, the
model ranks it right and the shortfall is the optimisation's; if its r_hat return is lower,
the model would not lead PPO there. r_hat is read on states its run may never have visited,
which is what PPO would be paid there if it got there. The true reward is read only to measure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from action_bounds_probe import play  # noqa: E402  (sibling scripts)
from reward_model_drift import load_run  # noqa: E402

from rlhf_from_scratch.envs import make  # noqa: E402
from rlhf_from_scratch.utils.errors import ConfigError  # noqa: E402


def judge(pref_run: Path, others: list[Path], episodes: int = 5, seed: int = 1000) -> list[dict]:
    """One row per policy (PREF_RUN's own first): mean length, true return and r_hat return over
    `episodes` deterministic episodes from env seeds seed, seed + 1, ..."""
    own = load_run(pref_run)
    judge_config, _, _, learner = own
    if learner is None:
        raise ConfigError(f"'{pref_run}' learned from the true reward: it has no reward model")
    rows = []
    for run_dir in [pref_run, *others]:
        config, state, policy, _ = own if run_dir == pref_run else load_run(run_dir)
        if config.env != judge_config.env:
            raise ConfigError(
                f"'{run_dir}' plays {config.env}, the reward model of '{pref_run}' "
                f"{judge_config.env}: pass runs of the same env"
            )
        env = make.make_vec_env(config.env, 1, seed, "sync", config.normalize_obs)
        make.set_obs_stats(env, state.get("obs_stats"), update=False)
        lengths, true, judged = [], [], []
        for episode in range(episodes):
            obs, actions, total, length = play(policy, env, 10**6, seed + episode, True)
            r_hat = learner.ensemble.reward(obs, learner.executed(actions))
            lengths.append(length)
            true.append(total)
            judged.append(r_hat.sum().item())
        env.close()
        rows.append(
            {
                "run": run_dir.name,
                "length": float(np.mean(lengths)),
                "true_return": float(np.mean(true)),
                "r_hat_return": float(np.mean(judged)),
                "r_hat_per_step": float(np.sum(judged) / np.sum(lengths)),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pref_run", type=Path, help="the preference run whose reward model judges")
    parser.add_argument("others", nargs="+", type=Path, help="runs whose policies it judges")
    parser.add_argument("--episodes", type=int, default=5, help="deterministic, per policy")
    parser.add_argument("--seed", type=int, default=1000, help="of the first episode's env")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = judge(args.pref_run, args.others, args.episodes, args.seed)
    print(f"judged by the reward model of {args.pref_run.name}, {args.episodes} episodes each")
    print("| policy of | length | true return | r_hat return | r_hat per step |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['length']:.0f} | {r['true_return']:.0f} | "
            f"{r['r_hat_return']:.0f} | {r['r_hat_per_step']:.2f} |"
        )


if __name__ == "__main__":
    main()
