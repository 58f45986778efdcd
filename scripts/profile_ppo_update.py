"""Count the torch operator calls of one PPO minibatch step, part by part (Hopper-v5 sizes).

    python scripts/profile_ppo_update.py --out benchmarks/throughput/ppo_update_ops.md

On 64-row minibatches of a 64-64 MLP each operator costs a few microseconds of fixed overhead
whatever its arithmetic, so PPO's update time follows the number of operator calls. The count
does not depend on the machine's load (timings do), so it shows where a speedup has to come
from: the loss, its backward pass, grad-norm clipping, Adam, or cutting the minibatch.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import gymnasium as gym
import torch
from torch.profiler import profile

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.algos.ppo import PPO, PPOConfig
from rlhf_from_scratch.envs.policies import ActorCritic
from rlhf_from_scratch.utils.machine import machine_info


def aten_calls(fn) -> Counter:
    """Operator calls (aten::*) made by fn(), after one warm-up call."""
    fn()
    with profile() as prof:
        fn()
    return Counter({e.key: e.count for e in prof.key_averages() if e.key.startswith("aten::")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write a markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = gym.make("Hopper-v5")
    policy = ActorCritic(env.observation_space, env.action_space, (64, 64), "tanh")
    ppo = PPO(policy, PPOConfig())
    n = 64  # 2048 steps / 32 minibatches
    g = torch.Generator().manual_seed(0)
    full = Batch(
        obs=torch.randn(2048, 11, generator=g),
        actions=torch.randn(2048, 3, generator=g),
        logp_old=torch.randn(2048, generator=g) - 3,
        advantages=torch.randn(2048, generator=g),
        returns=torch.randn(2048, generator=g),
        values_old=torch.randn(2048, generator=g),
        mask=torch.ones(2048),
    )
    mb = full[torch.arange(n)]

    def backward():
        loss, _ = ppo.loss(mb)
        ppo.optimizer.zero_grad(set_to_none=True)
        loss.backward()

    backward()  # gradients exist for the clip and the step below
    forward = aten_calls(lambda: ppo.loss(mb))  # profiled once: backward's count is net of it
    parts = {
        "minibatch indexing (batch[idx], 7 fields)": aten_calls(
            lambda: full[torch.randperm(2048, generator=g)[:n]]
        ),
        "PPO loss, forward": forward,
        "zero_grad + backward": aten_calls(backward) - forward,
        "grad-norm clip": aten_calls(lambda: torch.nn.utils.clip_grad_norm_(ppo.parameters, 0.5)),
        "Adam step (fused)": aten_calls(ppo.optimizer.step),
    }
    total = sum(sum(c.values()) for c in parts.values())
    info = machine_info()
    lines = [
        "# Operator calls of one PPO minibatch step (Hopper-v5 sizes: 64 rows, 64-64 tanh MLPs)",
        "",
        "- command: `python scripts/profile_ppo_update.py --out "
        "benchmarks/throughput/ppo_update_ops.md`",
        f"- date: {info['date']}",
        f"- machine: {info['cpu']}; {info['cores']} cores visible, torch {info['torch']}, "
        f"{info['torch_threads']} torch thread",
        "",
        "| part | aten calls | most frequent |",
        "|---|---|---|",
    ]
    for name, calls in parts.items():
        top = ", ".join(f"{k[6:]} {v}" for k, v in calls.most_common(4))
        lines.append(f"| {name} | {sum(calls.values())} | {top} |")
    lines += [
        f"| **total per minibatch** | **{total}** | |",
        "",
        f"An update of 10 epochs x 32 minibatches makes about {320 * total:,} operator calls.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
