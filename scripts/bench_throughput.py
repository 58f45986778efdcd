"""PPO throughput on Hopper-v5, side by side in one run: ours, Stable-Baselines3, the raw env.

    python scripts/bench_throughput.py --steps 102400 --repeats 3 --out benchmarks/throughput

Identical settings for both PPOs: 1 env, 2048 steps per rollout, 10 epochs, 32 minibatches
(batch 64), separate 64-64 tanh MLPs, observation and reward normalisation, 1 torch thread.
"Raw env" steps the same Gymnasium env with random actions and no learning: the ceiling.
SB3 is installed for this benchmark only (`pip install stable-baselines3`); it is the peer
being compared against and is never imported by the package.

Each contender runs `--repeats` times, in turns (raw, ours, SB3, raw, ours, ...), so that a
slower or faster spell of a shared machine falls on all of them; the table shows the median
and every run. Our PPO's time includes compiling its loss (~10 s, once per run; see
algos.common.compiled), as a training run's does (Inductor's on-disk cache of compiled kernels
is warm after a machine's first run, here as for a user).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rlhf_from_scratch.utils.machine import machine_info


def raw_env_rate(steps: int) -> float:
    import gymnasium as gym

    env = gym.make("Hopper-v5")
    env.reset(seed=0)
    env.action_space.seed(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def ours(steps: int) -> float:
    from rlhf_from_scratch.envs.train import default_config, train

    config = default_config(
        "ppo", "Hopper-v5", total_steps=steps, seed=1, eval_episodes=0, checkpoint_every=10_000
    )
    run_dir = tempfile.mkdtemp()
    shutil.rmtree(run_dir)
    torch._dynamo.reset()  # each run traces and compiles its loss again, as a new process does
    t0 = time.perf_counter()
    train(config, run_dir)
    return steps / (time.perf_counter() - t0)


def sb3(steps: int) -> float:
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    t0 = time.perf_counter()  # from construction, as ours (whose train() builds everything)
    env = VecNormalize(DummyVecEnv([lambda: gym.make("Hopper-v5")]), gamma=0.99)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=2048,
        batch_size=64,
        n_epochs=10,
        learning_rate=3e-4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.0,
        seed=1,
        device="cpu",
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=torch.nn.Tanh),
    )
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - t0)


def results_table(r: dict) -> list[str]:
    """The markdown table of one measurement (also used by scripts/report_benchmarks.py)."""
    fmt = lambda v: "n/a" if v is None else f"{v:,.0f}"  # noqa: E731
    each = lambda name: ", ".join(fmt(v) for v in r.get(f"{name}_runs", []))  # noqa: E731
    return [
        "| what | steps/s (median) | each run |",
        "|---|---|---|",
        f"| raw env (random actions, no learning) | {fmt(r['raw_env_steps_per_second'])} "
        f"| {each('raw_env')} |",
        f"| rlhf_from_scratch PPO | {fmt(r['ours_steps_per_second'])} | {each('ours')} |",
        f"| Stable-Baselines3 PPO | {fmt(r.get('sb3_steps_per_second'))} | {each('sb3')} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=102400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/throughput")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # The first optimiser built in a process imports torch._dynamo (seconds): import it here so
    # that neither contender pays that one-time cost inside its timing.
    importlib.import_module("torch._dynamo")

    contenders = {"raw_env": raw_env_rate, "ours": ours, "sb3": sb3}
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, measure in contenders.items():
            try:
                runs[name].append(measure(args.steps))
            except ImportError:  # SB3 not installed: the table says n/a
                pass
    r = {f"{name}_runs": values for name, values in runs.items()}
    for name, values in runs.items():
        r[f"{name}_steps_per_second"] = statistics.median(values) if values else None
    r["ours_vs_sb3"] = (
        r["ours_steps_per_second"] / r["sb3_steps_per_second"]
        if r["sb3_steps_per_second"]
        else None
    )
    r["ours_vs_raw_env"] = r["ours_steps_per_second"] / r["raw_env_steps_per_second"]
    machine = machine_info()
    meta = {
        "command": f"python scripts/bench_throughput.py --steps {args.steps} --repeats {args.repeats}",
        "date": machine["date"],
        "machine": f"{machine['cores']} cores visible, torch {machine['torch']}, 1 torch thread",
        "cpu": machine["cpu"],
        "steps": args.steps,
        "repeats": args.repeats,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps({**meta, **r}, indent=2) + "\n")
    lines = [
        "# PPO throughput, Hopper-v5 (steps per second, higher is better)",
        "",
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}",
        f"- machine: {meta['cpu']}; {meta['machine']}",
        "",
        *results_table(r),
        "",
        (f"ours / SB3 = {r['ours_vs_sb3']:.2f}x (target >= 2x); " if r["ours_vs_sb3"] else "")
        + f"ours / raw env = {r['ours_vs_raw_env']:.0%} (target >= 50%).",
    ]
    (out / "throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
