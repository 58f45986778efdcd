"""PPO on Atari, CPU only: training steps per second (agent steps, 4 frames each).

    python scripts/bench_atari_cpu.py --steps 8192 --out benchmarks/atari   # as committed

Runs `rlhf train --algo ppo` with the Atari defaults (8 envs x 128 steps, Nature CNN, 4 epochs
of 4 minibatches) for a short budget per game, with each torch thread count asked for, and
writes cpu_steps_per_second.{json,md}. The learning curves need a GPU (benchmarks/atari/);
this says what a student's laptop-class CPU can do in the meantime.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.machine import machine_info


def steps_per_second(env: str, steps: int, threads: int) -> dict:
    config = default_config(
        "ppo", env, total_steps=steps, seed=1, eval_episodes=0, torch_threads=threads
    )
    run_dir = Path(tempfile.mkdtemp()) / "run"
    t0 = time.perf_counter()
    summary = train(config, str(run_dir))
    wall = time.perf_counter() - t0
    shutil.rmtree(run_dir.parent)
    return {
        "env": env,
        "torch_threads": threads,
        "steps": summary["steps"],
        "train_steps_per_second": summary["steps_per_second"],
        "wall_seconds_with_setup": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=["Pong-v5", "Breakout-v5"])
    parser.add_argument("--steps", type=int, default=8192)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="benchmarks/atari")
    args = parser.parse_args()
    importlib.import_module("torch._dynamo")  # the one-time import the first optimiser makes

    rows = [steps_per_second(e, args.steps, t) for e in args.envs for t in args.threads]
    machine = machine_info()
    command = (
        f"python scripts/bench_atari_cpu.py --steps {args.steps} --envs {' '.join(args.envs)}"
        f" --threads {' '.join(map(str, args.threads))}"
    )
    meta = {"command": command, "date": machine["date"], "cpu": machine["cpu"]}
    meta.update(cores=machine["cores"], torch=torch.__version__)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cpu_steps_per_second.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    lines = [
        "# PPO on Atari, CPU only: steps per second",
        "",
        f"- command: `{command}`",
        f"- date: {meta['date']}",
        f"- machine: {meta['cpu']}, {meta['cores']} cores visible, torch {meta['torch']}, no GPU",
        "- steps are agent steps (4 emulator frames each); the Atari PPO defaults (8 envs x 128"
        " steps, Nature CNN, 4 epochs x 4 minibatches); steps/s counts training only (the run's"
        " own summary), the last column includes building the envs and the model",
        "",
        "| env | torch threads | steps | steps/s | wall s (with setup) | 10M steps would take |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        hours = 10_000_000 / r["train_steps_per_second"] / 3600
        lines.append(
            f"| {r['env']} | {r['torch_threads']} | {r['steps']} | "
            f"{r['train_steps_per_second']:.0f} | {r['wall_seconds_with_setup']:.1f} | "
            f"{hours:.0f} h |"
        )
    (out / "cpu_steps_per_second.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
