"""Where a MuJoCo policy's mean action lies against the action bounds, and what r_hat makes of
the part past them.

    python scripts/action_bounds_probe.py RUN_DIR... [--steps 1000] [--sampled 300] [--seed 5]

The env clips a Gaussian policy's sample to the bounds of its action space, so whatever lies past
a bound changes nothing in the env. For each run's newest checkpoint, one deterministic episode
(as the evaluation plays it): its length and return, the share of the mean action's components
past their bound, and their mean |mu| in units of the bound. For a preference run, also
`--sampled` steps of the stochastic policy (as in training), scored by the run's reward model
three ways: with the raw samples, with the samples clipped to the bounds (what the env executed),
and with each component that lay past its bound moved half the bounds' range further out. In
units of r_hat's std over those steps: raw - clipped > 0 means the reward model pays for the
part the env ignores (the handle that `--rm-clip-actions`, on by default since 2026-11-25,
takes away; a run made with it never feeds the raw sample to r_hat, so there the figure is only
the model's extrapolation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reward_model_drift import load_run  # noqa: E402  (a sibling script)

from rlhf_from_scratch.envs import make  # noqa: E402
from rlhf_from_scratch.utils.errors import ConfigError  # noqa: E402


def play(policy, env, steps: int, seed: int, deterministic: bool):
    """(raw observations, mean or sampled actions, return, length) of one episode, up to `steps`."""
    obs, _ = env.reset(seed=seed)
    observations, actions, total = [], [], 0.0
    for _ in range(steps):
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        with torch.no_grad():
            action = policy.act(obs_t, deterministic=deterministic)
        observations.append(make.raw_observations(env, obs_t)[0])
        actions.append(action[0])
        obs, reward, terminated, truncated, _ = env.step(policy.env_action(action))
        total += float(reward[0])
        if terminated[0] or truncated[0]:
            break
    return torch.stack(observations), torch.stack(actions), total, len(actions)


def probe(run_dir: Path, steps: int = 1000, sampled: int = 300, seed: int = 5) -> dict:
    config, state, policy, learner = load_run(run_dir)
    if make.env_family(config.env) == "atari":
        raise ConfigError(f"'{run_dir}' plays {config.env}: its actions have no bounds")
    if policy.discrete:
        raise ConfigError(f"'{run_dir}' has discrete actions: they have no bounds")
    env = make.make_vec_env(config.env, 1, seed, "sync", config.normalize_obs)
    make.set_obs_stats(env, state.get("obs_stats"), update=False)
    high = torch.as_tensor(env.single_action_space.high, dtype=torch.float32)
    low = torch.as_tensor(env.single_action_space.low, dtype=torch.float32)
    _, mean, total, length = play(policy, env, steps, seed, deterministic=True)
    width = (high - low) / 2
    centred = (mean - (high + low) / 2) / width  # the bounds at -1 and +1
    out = {
        "run": run_dir.name,
        "length": length,
        "return": total,
        "past_bounds": (centred.abs() > 1).float().mean().item(),
        "mean_abs_mu": centred.abs().mean().item(),
        "std": policy.log_std.exp().tolist(),
    }
    if learner is not None:
        obs, actions, *_ = play(policy, env, sampled, seed + 1, deterministic=False)
        past = (actions > high) | (actions < low)
        further = actions + torch.sign(actions - (high + low) / 2) * past * width
        ensemble = learner.ensemble
        raw, clipped, far = (
            ensemble.reward(obs, a) for a in (actions, actions.clamp(low, high), further)
        )
        spread = raw.std().item()
        out["sampled_past_bounds"] = past.float().mean().item()
        out["raw_minus_clipped"] = (raw - clipped).mean().item() / spread
        out["further_minus_raw"] = (far - raw).mean().item() / spread
    env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="MuJoCo run directories")
    parser.add_argument("--steps", type=int, default=1000, help="of the deterministic episode")
    parser.add_argument("--sampled", type=int, default=300, help="stochastic steps for r_hat")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("run | length | return | mean past bounds | mean |mu| | r_hat raw - clipped | further")
    for run in args.runs:
        p = probe(run, args.steps, args.sampled, args.seed)
        rhat = (
            f"{p['raw_minus_clipped']:+.3f} std | {p['further_minus_raw']:+.3f} std"
            if "raw_minus_clipped" in p
            else "- | -"
        )
        print(
            f"{p['run']} | {p['length']} | {p['return']:.0f} | {p['past_bounds']:.2f} | "
            f"{p['mean_abs_mu']:.2f} | {rhat}"
        )


if __name__ == "__main__":
    main()
