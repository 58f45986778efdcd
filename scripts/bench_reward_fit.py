"""What one refit of the Atari reward model costs, by the number of labels (CPU, 1 thread).

    python scripts/bench_reward_fit.py --labels 100 200 --epochs 8

Fits a 3-member ensemble to N labelled pairs of 25-step clips of random 4 x 84 x 84 frames
(the cost does not depend on what the frames show) with `--epochs` passes, normalised on a
pool of 300 clips, as `rlhf train --reward preferences` refits when labels arrive; and, where
the code has it, one update of the budgeted fit (`fit_batches`, 3 minibatches of 32 pairs per
member: 0.1 labels per step of a 1024-step PPO update). Prints one JSON line per N.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rlhf_from_scratch.preferences.reward_model import RewardEnsemble, RewardModelConfig
from rlhf_from_scratch.preferences.segments import Segment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--dropout", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    def clip() -> Segment:
        frames = rng.integers(0, 256, (25, 4, 84, 84), dtype=np.uint8)
        return Segment(frames, rng.integers(0, 6, 25), rng.normal(size=25))

    recent = [clip() for _ in range(300)]
    for n in args.labels:
        labelled = [(i, clip(), clip(), float(i % 2)) for i in range(1, n + 1)]
        config = RewardModelConfig(epochs=args.epochs, dropout=args.dropout)
        ensemble = RewardEnsemble((4, 84, 84), 6, True, config, seed=0)
        t0 = time.perf_counter()
        ensemble.fit(labelled, recent)
        row = {"labels": n, "epochs": args.epochs, "fit_seconds": time.perf_counter() - t0}
        if hasattr(ensemble, "fit_batches"):
            t0 = time.perf_counter()
            ensemble.fit_batches(labelled, recent, batches=3, validate=False)
            row["fit_batches_3_seconds"] = time.perf_counter() - t0
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
