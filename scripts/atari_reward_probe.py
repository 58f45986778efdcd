"""What an Atari preference run's reward model says around the points of a game.

    python scripts/atari_reward_probe.py RUN_DIR [--steps 3000] [--window 10]

Plays the run's newest policy (sampling, as in training) in one env of its game for `--steps`
agent steps and scores every step with the run's reward model. Prints, in units of r_hat's std
over the played steps: for each action, how often the policy took it and the mean r_hat of the
played frames with that action put in (what the action alone is worth to the reward model);
and the mean r_hat on the `--window` steps up to each point lost (true reward -1), up to each
point won (+1), and on the rest. A reward model that learned what the labels say (clips that lose a point are worse) is
lowest before the points lost. The true reward is read only to measure.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reward_model_drift import load_preference_run  # noqa: E402  (a sibling script)

from rlhf_from_scratch.envs import make  # noqa: E402
from rlhf_from_scratch.envs.train import build  # noqa: E402
from rlhf_from_scratch.utils.errors import ConfigError  # noqa: E402


def play(run_dir: Path, steps: int, seed: int) -> dict[str, np.ndarray]:
    config, state, learner = load_preference_run(run_dir)
    learner.store.close()
    if make.env_family(config.env) != "atari":
        raise ConfigError(f"'{run_dir}' trained on {config.env}, not an Atari game")
    envs, policy, *_ = build(replace(config, num_envs=1, seed=seed))  # as the run built them
    policy.load_state_dict(state["policy"])
    obs, _ = envs.reset(seed=seed)
    n_actions = envs.single_action_space.n
    actions, rewards, r_hat, every_action = [], [], [], []
    for _ in range(steps):
        frames = torch.as_tensor(obs)
        action = policy.act(frames)
        r_hat.append(learner.ensemble.reward(frames, action).item())
        # the same frames with each action in turn: what the action alone is worth to r_hat
        every_action.append(
            learner.ensemble.reward(frames.expand(n_actions, -1, -1, -1), torch.arange(n_actions))
        )
        obs, reward, *_ = envs.step(action.numpy())
        actions.append(int(action))
        rewards.append(float(reward[0]))
    envs.close()
    game = gym.make(make.resolve_env_id(config.env))  # the same minimal action set, in order
    names = game.unwrapped.get_action_meanings()
    game.close()
    return {
        "names": np.array(names),
        "actions": np.array(actions),
        "rewards": np.array(rewards),
        "r_hat": np.array(r_hat),
        "every_action": torch.stack(every_action).numpy(),  # [steps, actions]
    }


def before(events: np.ndarray, window: int) -> np.ndarray:
    """Steps that lie within `window` steps up to one of the events (the event's step too)."""
    marked = np.zeros(len(events), dtype=bool)
    for t in np.flatnonzero(events):
        marked[max(0, t - window + 1) : t + 1] = True
    return marked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="an Atari preference run directory")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    played = play(args.run, args.steps, args.seed)
    print(f"{args.run.name}: {args.steps} steps, return {played['rewards'].sum():+.0f}")
    mean, std = played["r_hat"].mean(), played["r_hat"].std()
    z = (played["r_hat"] - mean) / std
    worth = (played["every_action"] - mean) / std
    print("action: share of the policy's steps; mean r_hat with this action on every frame")
    for action, count in enumerate(np.bincount(played["actions"], minlength=worth.shape[1])):
        name = f"{action} {played['names'][action]}"
        print(f"  {name:<13} {count / args.steps:4.0%}  {worth[:, action].mean():+.2f} std")
    lost = before(played["rewards"] < 0, args.window)
    won = before(played["rewards"] > 0, args.window)
    for name, mask in [("before a point lost", lost), ("before a point won", won),
                       ("the other steps", ~(lost | won))]:  # fmt: skip
        mean = f"{z[mask].mean():+.2f}" if mask.any() else "-"
        print(f"  r_hat on {mask.sum():5d} steps {name}: {mean} std")


if __name__ == "__main__":
    main()
