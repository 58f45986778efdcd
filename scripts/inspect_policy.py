"""Watch what a trained MuJoCo policy does, in numbers: one deterministic episode, step by step.

    python scripts/inspect_policy.py RUN_DIR                  # the env as evaluation sees it
    python scripts/inspect_policy.py RUN_DIR --fixed-length   # termination ignored (no fall
                                                              # penalty: the bare task reward)

Prints, at a few steps, the return so far and the env's own reward terms (info: e.g. Hopper's
reward_survive, reward_forward, z_distance_from_origin), and where the episode would have
ended. It is how we found the 700-label Hopper lying on its back and scooting forward
(benchmarks/preferences/hopper/superseded/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rlhf_from_scratch.envs import make
from rlhf_from_scratch.envs.train import TrainConfig, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a run directory (its newest checkpoint) or a checkpoint file")
    parser.add_argument("--fixed-length", action="store_true", help="ignore termination")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    path = Path(args.run)
    file = path if path.is_file() else sorted((path / "checkpoints").glob("*.pt"))[-1]
    run_dir = path if path.is_dir() else path.parent.parent
    config = TrainConfig(**json.loads((run_dir / "config.json").read_text()))
    _, policy, *_ = build(config)
    state = torch.load(file, map_location="cpu", weights_only=False)
    policy.load_state_dict(state["policy"])
    env = make.make_vec_env(config.env, 1, args.seed, "sync", config.normalize_obs,
                            fixed_length=args.fixed_length)  # fmt: skip
    make.set_obs_stats(env, state.get("obs_stats"), update=False)
    obs, _ = env.reset(seed=args.seed)
    total, ended_at = 0.0, None
    shown = {10, 25, 50, 100, 250, 500, args.steps - 1}
    print(f"{file}: {'fixed-length' if args.fixed_length else 'plain'} {config.env}")
    for t in range(args.steps):
        action = policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)
        obs, reward, terminated, truncated, info = env.step(policy.env_action(action))
        total += float(reward[0])
        fell = terminated[0] or bool(np.asarray(info.get("task_terminated", [False]))[0])
        if ended_at is None and (fell or truncated[0]):
            ended_at = t + 1
        if t in shown or (not args.fixed_length and ended_at):
            terms = {k: round(float(np.asarray(v)[0]), 2) for k, v in info.items()
                     if k.startswith(("reward_", "z_", "x_"))}  # fmt: skip
            print(f"step {t + 1:5d}  return {total:8.1f}  {terms}")
        if not args.fixed_length and ended_at:
            break
    if args.fixed_length:
        print(f"the task would have ended at step {ended_at}" if ended_at else "it never fell")
    else:
        print(f"episode ended at step {ended_at}" if ended_at else "episode did not end")


if __name__ == "__main__":
    main()
