"""PPO on Atari, CPU only: training steps per second (agent steps, 4 frames each).

    python scripts/bench_atari_cpu.py --steps 8192 --out benchmarks/atari   # as committed
    python scripts/bench_atari_cpu.py --envs Pong-v5 --threads 1 2 --steps 8192 \
        --reward preferences --labels 3300                                # preference runs

Runs `rlhf train --algo ppo` with the Atari defaults (8 envs x 128 steps, Nature CNN, 4 epochs
of 4 minibatches) for a short budget per game, with each torch thread count asked for, and
writes cpu_steps_per_second.{json,md}. The learning curves need a GPU (benchmarks/atari/);
this says what a student's laptop-class CPU can do in the meantime.

With `--reward preferences` it writes cpu_steps_per_second_preferences.{json,md}: the same
runs learning from a reward model of `--labels` synthetic labels (the Atari preference
defaults), timed after the first update (the steady rate: r_hat, clips, labels, the reward
model's training at every update) and, apart, the warm-up before it (the first quarter of the
labels on clips of the untrained policy, fitted with rm_epochs passes).
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
from rlhf_from_scratch.utils.rundir import read_metrics


class Enough(Exception):
    pass


def steps_per_second(env: str, steps: int, threads: int, **preferences) -> dict:
    """A run of `steps` steps; a preference run is the start of a 10M-step run (its label
    schedule is that run's), stopped after `steps`."""
    config = default_config(
        "ppo",
        env,
        total_steps=10_000_000 if preferences else steps,
        seed=1,
        eval_episodes=0,
        torch_threads=threads,
        log_every=1,
        **preferences,
    )
    run_dir = Path(tempfile.mkdtemp()) / "run"

    def stop(step: int, metrics: dict) -> None:
        if step >= steps:
            raise Enough

    t0 = time.perf_counter()
    try:
        summary = train(config, str(run_dir), on_update=stop if preferences else None)
    except Enough:
        summary = {"steps": steps}
    wall = time.perf_counter() - t0
    rows = read_metrics(run_dir)
    shutil.rmtree(run_dir.parent)
    first, last = rows[0], rows[-1]
    return {
        "env": env,
        "torch_threads": threads,
        "steps": summary["steps"],
        "train_steps_per_second": summary.get("steps_per_second", last["steps_per_second"]),
        "wall_seconds_with_setup": wall,
        # the run's own clock: the first update's row includes the warm-up, later rows do not
        "seconds_to_first_update": first["wall_seconds"],
        "steps_per_second_after_first_update": (last["step"] - first["step"])
        / (last["wall_seconds"] - first["wall_seconds"]),
        **({"labels_used": last["labels_used"]} if preferences else {}),
    }


def preference_table(rows: list[dict], meta: dict, labels: int) -> list[str]:
    lines = [
        "# PPO on Atari from synthetic preferences, CPU only: steps per second",
        "",
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}",
        f"- machine: {meta['cpu']}, {meta['cores']} cores visible, torch {meta['torch']}, no GPU",
        f"- freed memory kept (utils.machine.keep_freed_memory): {meta['freed_memory_kept']}",
        f"- `rlhf train --algo ppo --env ENV --reward preferences --labels {labels}` with the"
        " Atari defaults (PPO: 8 envs x 128 steps; reward model: the paper's CNN, 3 members,"
        " trained at 0.1 labels per env step on the newest 3000 labels); the first `steps` of"
        " a 10M-step run (its label schedule); agent steps of 4 frames; the steady rate is"
        " timed from the first update's metrics row to the last",
        "",
        "| env | torch threads | steps | labels by then | warm-up + first update, s "
        "| steps/s after it | 10M steps would take |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate = r["steps_per_second_after_first_update"]
        lines.append(
            f"| {r['env']} | {r['torch_threads']} | {r['steps']} | {r['labels_used']} | "
            f"{r['seconds_to_first_update']:.0f} | {rate:.0f} | {10_000_000 / rate / 3600:.0f} h |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=["Pong-v5", "Breakout-v5"])
    parser.add_argument("--steps", type=int, default=8192)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="benchmarks/atari")
    parser.add_argument("--reward", choices=["env", "preferences"], default="env")
    parser.add_argument("--labels", type=int, default=3300, help="with --reward preferences")
    args = parser.parse_args()
    importlib.import_module("torch._dynamo")  # the one-time import the first optimiser makes

    preferences = (
        dict(reward="preferences", labels=args.labels) if args.reward == "preferences" else {}
    )
    rows = [
        steps_per_second(e, args.steps, t, **preferences) for e in args.envs for t in args.threads
    ]
    machine = machine_info()
    command = (
        f"python scripts/bench_atari_cpu.py --steps {args.steps} --envs {' '.join(args.envs)}"
        f" --threads {' '.join(map(str, args.threads))}"
    )
    if preferences:
        command += f" --reward preferences --labels {args.labels}"
    meta = {"command": command, "date": machine["date"], "cpu": machine["cpu"]}
    meta.update(cores=machine["cores"], torch=torch.__version__)
    # train's keep_freed_memory (RLHF_KEEP_FREED_MEMORY=0: off; code before it: absent)
    meta["freed_memory_kept"] = machine.get("freed_memory_kept", False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "cpu_steps_per_second" + ("_preferences" if preferences else "")
    (out / f"{name}.json").write_text(json.dumps({**meta, "rows": rows}, indent=2))
    if preferences:
        lines = preference_table(rows, meta, args.labels)
        (out / f"{name}.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return
    lines = [
        "# PPO on Atari, CPU only: steps per second",
        "",
        f"- command: `{command}`",
        f"- date: {meta['date']}",
        f"- machine: {meta['cpu']}, {meta['cores']} cores visible, torch {meta['torch']}, no GPU",
        f"- freed memory kept (utils.machine.keep_freed_memory): {meta['freed_memory_kept']}",
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
