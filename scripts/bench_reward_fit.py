"""What one refit of the Atari reward model costs, by the number of labels (CPU; `--threads`).

    python scripts/bench_reward_fit.py --labels 100 200 --epochs 8
    python scripts/bench_reward_fit.py --labels 300 --no-fit --updates 5 --threads 1 2

Fits a 3-member ensemble to N labelled pairs of 25-step clips of random 4 x 84 x 84 frames
(the cost does not depend on what the frames show) with `--epochs` passes, normalised on a
pool of 300 clips, as `rlhf train --reward preferences` refits when labels arrive; and, where
the code has it, one update of the budgeted fit (`fit_batches`, 3 minibatches of 32 pairs per
member: 0.1 labels per step of a 1024-step PPO update), timed over `--updates` updates.
Prints one JSON line per N and thread count, with the module it timed (so a run from a
worktree of older code shows which code it measured).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch

from rlhf_from_scratch.preferences import reward_model
from rlhf_from_scratch.preferences.reward_model import RewardEnsemble, RewardModelConfig
from rlhf_from_scratch.preferences.segments import Segment
from rlhf_from_scratch.utils import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--updates", type=int, default=1, help="budgeted updates to time")
    parser.add_argument("--no-fit", action="store_true", help="time the budgeted updates only")
    parser.add_argument(
        "--no-actions", action="store_true", help="r_hat of the frames alone (the Atari default)"
    )
    args = parser.parse_args()
    # as `train` does (RLHF_KEEP_FREED_MEMORY=0: off); code from before it had no such call
    kept = hasattr(machine, "keep_freed_memory") and machine.keep_freed_memory()
    rng = np.random.default_rng(0)

    def clip() -> Segment:
        frames = rng.integers(0, 256, (25, 4, 84, 84), dtype=np.uint8)
        return Segment(frames, rng.integers(0, 6, 25), rng.normal(size=25))

    recent = [clip() for _ in range(300)]
    for n, threads in itertools.product(args.labels, args.threads):
        torch.set_num_threads(threads)
        labelled = [(i, clip(), clip(), float(i % 2)) for i in range(1, n + 1)]
        config = RewardModelConfig(epochs=args.epochs, dropout=args.dropout)
        if args.no_actions:
            config.actions = False
        ensemble = RewardEnsemble((4, 84, 84), 6, True, config, seed=0)
        row = {"labels": n, "threads": threads, "module": reward_model.__file__}
        row["freed_memory_kept"] = kept
        if not args.no_fit:
            t0 = time.perf_counter()
            ensemble.fit(labelled, recent)
            row.update(epochs=args.epochs, fit_seconds=time.perf_counter() - t0)
        if hasattr(ensemble, "fit_batches"):
            t0 = time.perf_counter()
            for _ in range(args.updates):
                ensemble.fit_batches(labelled, recent, batches=3, validate=False)
            row["fit_batches_3_seconds"] = (time.perf_counter() - t0) / args.updates
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
