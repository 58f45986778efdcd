"""How a CartPole policy's episodes end, and what its reward model pays along the track.

    python scripts/cartpole_probe.py RUN_DIR... [--episodes 10] [--seed 100]

CartPole ends an episode two ways: the pole past 12 degrees, or the cart off the track
(|x| > 2.4). For each run's newest checkpoint, `--episodes` deterministic episodes (as the
evaluation plays them, seeds `--seed`, `--seed` + 1, ...): how many reach the time limit, how
many end with the cart off the track and how many with the pole fallen, read from the state the
episode ended in.

For a preference run, also r_hat (whose zero is the reward of the absorbing state after an
episode's end with `--absorbing`) at the cart's positions x = -2.4 and +2.4 against x = 0, the
rest of the state 0 (pole upright, nothing moving): the mean of the two ends minus the centre.
Positive: the reward model pays the cart for standing near an end of the track, which only the
next steps' fall can cost it. This is r_hat as the reward model gives it, what the learner is
paid unless `--scale-returns` divides it by a running std of the discounted return first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reward_model_drift import learner_rewards, load_run  # noqa: E402  (sibling script)

from rlhf_from_scratch.envs import make  # noqa: E402
from rlhf_from_scratch.envs.defaults import base_name  # noqa: E402
from rlhf_from_scratch.utils.errors import ConfigError  # noqa: E402
from rlhf_from_scratch.utils.rundir import final_return  # noqa: E402

ENDS = ("time limit", "off the track", "pole fell")


def how_it_ended(state: np.ndarray, truncated: bool, x_threshold: float) -> str:
    """One of ENDS, from the raw state [x, x_dot, theta, theta_dot] the episode ended in."""
    if truncated:
        return "time limit"
    return "off the track" if abs(state[0]) > x_threshold else "pole fell"


def track_rewards(learner, x_threshold: float) -> tuple[float, float]:
    """(the learner's reward at x = 0, mean at x = +-x_threshold minus it), the rest of the
    state 0 and the action 0."""
    states = torch.zeros(3, 4)
    states[:, 0] = torch.tensor([0.0, -x_threshold, x_threshold])
    given = learner_rewards(learner, states, torch.zeros(3), torch.ones(3))
    centre, left, right = given.tolist()
    return centre, (left + right) / 2 - centre


def probe(run_dir: Path, episodes: int = 10, seed: int = 100) -> dict:
    config, state, policy, learner = load_run(run_dir)
    if base_name(config.env) != "CartPole":
        raise ConfigError(f"'{run_dir}' plays {config.env}: this probe reads CartPole's state")
    env = make.make_vec_env(config.env, 1, seed, "sync", config.normalize_obs)
    make.set_obs_stats(env, state.get("obs_stats"), update=False)
    x_threshold = env.envs[0].unwrapped.x_threshold
    ends, lengths = dict.fromkeys(ENDS, 0), []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        for t in range(100_000):
            with torch.no_grad():
                action = policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)
            obs, _, terminated, truncated, _ = env.step(policy.env_action(action))
            if terminated[0] or truncated[0]:
                raw = make.raw_observations(env, torch.as_tensor(obs, dtype=torch.float32))[0]
                ends[how_it_ended(raw.numpy(), bool(truncated[0]), x_threshold)] += 1
                lengths.append(t + 1)
                break
    env.close()
    out = {"run": run_dir.name, "final_return": final_return(run_dir), **ends}
    out["mean_length"] = float(np.mean(lengths))
    out["centre"], out["ends_minus_centre"] = (
        track_rewards(learner, x_threshold) if learner is not None else (None, None)
    )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=100, help="of the first episode")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(
        "| run | final eval (summary.json) | " + " | ".join(ENDS) + " | mean length | "
        "r_hat at the centre | r_hat, ends minus centre |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        p = probe(run, args.episodes, args.seed)
        final = "-" if p["final_return"] is None else f"{p['final_return']:.0f}"
        reward = (
            ["-", "-"]
            if p["centre"] is None
            else [f"{p['centre']:+.2f}", f"{p['ends_minus_centre']:+.2f}"]
        )
        cells = [p["run"], final, *(str(p[e]) for e in ENDS), f"{p['mean_length']:.0f}", *reward]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
