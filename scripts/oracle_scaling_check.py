"""Does the oracle at a fixed map, through --scale-returns, give PPO true-reward PPO's signal?

    MUJOCO_GL=egl python scripts/oracle_scaling_check.py [--env Walker2d-v5] [--seed 9]
        [--updates 10] [--mean 4.56] [--std 1.31] [--target-mean 0.348] [--target-std 0.1]

The oracle maps the true reward to t (r - M) / S + b; with b = t M / S that is (t / S) r, and
the return scaling (r / std of the discounted return) does not see a constant factor. So the
rewards PPO trains on should be those the collector's own scaling makes of the true reward, as
in a true-reward run. This trains a preference run with that oracle for `--updates` updates,
records each rollout's true rewards, ends and the scaled rewards handed to PPO, replays the
true rewards through a fresh ReturnScaler step by step as the collector does, and prints, per
update, the oracle's (mean, std), the largest difference, how many steps differ and both stds.
The first update's first steps differ by design: the scaler's prior (variance 1 at a weight of
1e-4) is not free of the reward's scale until a few returns have outweighed it.

It found the defect fixed in e35abd8 (benchmarks/preferences/oracle, session 40): before the
first refit the oracle used (0, 1), and the scaled rewards came out 5 times too small.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from rlhf_from_scratch.envs import train as training
from rlhf_from_scratch.envs.rollout import ReturnScaler
from rlhf_from_scratch.preferences.loop import PreferenceLearner


class Stop(Exception):
    pass


def main(argv: list[str] | None = None) -> list[tuple[float, int]]:
    """Prints the table; returns (max abs difference, steps off by > 1e-3) per update."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="Walker2d-v5")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--mean", type=float, default=4.56, help="--oracle-mean")
    parser.add_argument("--std", type=float, default=1.31, help="--oracle-std")
    parser.add_argument("--target-mean", type=float, default=0.348, help="--rm-target-mean")
    parser.add_argument("--target-std", type=float, default=0.1, help="--rm-target-std")
    args = parser.parse_args(argv)

    seen: list[dict] = []  # one per update: what the learner saw and what PPO was given
    rewards, scale_rollout = PreferenceLearner.rewards, ReturnScaler.scale_rollout

    def record_rewards(self, rollout, raw_obs):
        seen.append(
            {
                "scale": self.oracle_scale,
                "true": rollout.true_rewards.numpy().copy(),
                "done": np.maximum(rollout.terminated.numpy(), rollout.truncated.numpy()),
                "real": rollout.mask.numpy().copy(),
            }
        )
        return rewards(self, rollout, raw_obs)

    def record_scaled(self, r, done, real):
        seen[-1]["scaled"] = scale_rollout(self, r, done, real)
        return seen[-1]["scaled"]

    PreferenceLearner.rewards, ReturnScaler.scale_rollout = record_rewards, record_scaled
    config = training.default_config(
        "ppo", args.env, seed=args.seed, reward="preferences", fixed_length=False, normalize_reward=True,
        eval_episodes=1, compile=False,
        preference_config=dict(
            labels=700, oracle_reward=True, oracle_mean=args.mean, oracle_std=args.std,
            rm_target_mean=args.target_mean, rm_target_std=args.target_std, rm_actions=False,
            scale_returns=True,
        ),
    )  # fmt: skip
    steps = config.num_envs * config.n_steps

    def stop(step, metrics):
        if step >= args.updates * steps:
            raise Stop

    try:
        with tempfile.TemporaryDirectory() as run_dir:
            training.train(config, run_dir, on_update=stop)
    except Stop:
        pass
    finally:  # the replay below uses the real scaler
        PreferenceLearner.rewards, ReturnScaler.scale_rollout = rewards, scale_rollout
    collector_style = ReturnScaler(config.num_envs, training.algorithm_config(config).gamma)
    print(
        "| update | oracle (mean, std) | max abs difference | steps off by > 1e-3 "
        "| std given / std of the collector's |"
    )
    print("|---|---|---|---|---|")
    gaps = []
    for i, row in enumerate(seen):
        mine = collector_style.scale_rollout(row["true"], row["done"], row["real"])
        gap = np.abs(row["scaled"] - mine)
        gaps.append((float(gap.max()), int((gap > 1e-3).sum())))
        mean, std = row["scale"]
        print(
            f"| {i + 1} | ({mean:.3g}, {std:.3g}) | {gap.max():.2g} | {(gap > 1e-3).sum()} | "
            f"{row['scaled'].std():.4f} / {mine.std():.4f} |"
        )
    return gaps


if __name__ == "__main__":
    main()
