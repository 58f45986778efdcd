"""Is a MuJoCo runner upright or on its back? The torso's pitch in one deterministic episode.

    python scripts/torso_pitch_probe.py RUN_DIR... [--steps 1000] [--skip 100] [--seed 5]

HalfCheetah has a well-known second way to run: flipped onto its back, legs in the air, at about
a third of the upright gait's speed. PPO lands in it on some seeds whatever the reward, and a
run's final return alone does not say which gait it found. For each run's newest checkpoint,
one deterministic episode (as the evaluation plays it): its return, the mean |pitch| of the
torso (radians; 0 is upright, pi is upside down) and the share of steps with |pitch| > pi/2,
both after the first `--skip` steps (the start, where every policy is still upright). Below the
table, the runs grouped by gait (on its back: more than half the probed steps past a quarter
turn), each group's count and mean final return (summary.json `eval_return_mean`, the ten-episode
evaluation the benchmark tables report), so a within-gait comparison reads from one command per
recipe.

The pitch is the torso's hinge angle `rooty`, the second entry of the observation of
HalfCheetah, Hopper and Walker2d (their observations start with qpos[1:], the x position left
out), read before observation normalisation. The hinge has no limit and winds on past pi (a
runner that somersaulted and ran on upright reads 2 pi), so the angle is wrapped to [-pi, pi]
first: `wrap`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from action_bounds_probe import play  # noqa: E402  (sibling scripts)
from reward_model_drift import load_run  # noqa: E402

from rlhf_from_scratch.envs import make  # noqa: E402
from rlhf_from_scratch.envs.defaults import base_name  # noqa: E402
from rlhf_from_scratch.utils.errors import ConfigError  # noqa: E402
from rlhf_from_scratch.utils.rundir import final_return  # noqa: E402

PITCH_INDEX = 1  # rooty, after rootz, in the observations of these envs
ENVS = ("HalfCheetah", "Hopper", "Walker2d")


def wrap(angle: np.ndarray) -> np.ndarray:
    """The hinge angle as a turn from upright in [-pi, pi): 2 pi (a full somersault) is 0."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def flipped_share(pitch: np.ndarray) -> float:
    """The share of steps with the torso turned more than a quarter turn: |pitch| > pi/2,
    `pitch` already wrapped."""
    return float(np.mean(np.abs(pitch) > math.pi / 2))


def gait(flipped: float) -> str:
    """'on its back' when more than half the probed steps were past a quarter turn."""
    return "on its back" if flipped > 0.5 else "upright"


def by_gait(probes: list[dict]) -> dict[str, tuple[int, float | None]]:
    """Each gait's number of runs and the mean of their final returns (`final_return`, None
    for a run without summary.json; the mean is None when no run of the gait has one)."""
    groups: dict[str, tuple[int, float | None]] = {}
    for name in ("upright", "on its back"):
        members = [p for p in probes if gait(p["flipped"]) == name]
        finals = [p["final_return"] for p in members if p["final_return"] is not None]
        groups[name] = (len(members), float(np.mean(finals)) if finals else None)
    return groups


def probe(run_dir: Path, steps: int = 1000, skip: int = 100, seed: int = 5) -> dict:
    config, state, policy, _ = load_run(run_dir)
    if base_name(config.env) not in ENVS:
        raise ConfigError(
            f"'{run_dir}' plays {config.env}: the torso's pitch is read for {', '.join(ENVS)}"
        )
    env = make.make_vec_env(config.env, 1, seed, "sync", config.normalize_obs)
    make.set_obs_stats(env, state.get("obs_stats"), update=False)
    obs, _, total, length = play(policy, env, steps, seed, deterministic=True)
    env.close()
    pitch = wrap(obs[skip:, PITCH_INDEX].numpy())
    if len(pitch) == 0:
        raise ConfigError(f"the episode of '{run_dir}' ended within --skip {skip} steps")
    return {
        "run": run_dir.name,
        "length": length,
        "return": total,
        "mean_abs_pitch": float(np.abs(pitch).mean()),
        "flipped": flipped_share(pitch),
        "final_return": final_return(run_dir),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--steps", type=int, default=1000, help="of the deterministic episode")
    parser.add_argument("--skip", type=int, default=100, help="first steps left out")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| run | length | return | mean abs pitch (rad) | steps on its back |")
    print("|---|---|---|---|---|")
    probes = []
    for run in args.runs:
        p = probe(run, args.steps, args.skip, args.seed)
        probes.append(p)
        print(
            f"| {p['run']} | {p['length']} | {p['return']:.0f} | {p['mean_abs_pitch']:.2f} | "
            f"{p['flipped']:.0%} |"
        )
    print("\n| gait | runs | mean final return (summary.json) |")
    print("|---|---|---|")
    for name, (count, mean) in by_gait(probes).items():
        print(f"| {name} | {count} | {'-' if mean is None else f'{mean:.0f}'} |")


if __name__ == "__main__":
    main()
