"""Simulated teachers: who says which of two segments (or two texts) is better.

After B-Pref (Lee et al. 2021), a benchmark of preference-based RL with scripted teachers
that are irrational in the ways humans are. A teacher sees the true rewards of two segments,
r^1 = (r^1_0 .. r^1_{H-1}) and r^2, and answers a label mu:

    1.0 the first is better, 0.0 the second is better, 0.5 equally good, None: skipped.

A text has a single gold score: it is the sequence (score,) of length one. The options,
applied in B-Pref's order:

  skip       R^i = sum_t r^i_t; if max(R^1, R^2) < skip_threshold, skip (neither shows the
             behaviour, so the human does not answer)
  equal      if |R^1 - R^2| < equal_threshold, answer 0.5 (a tie)
  myopic     the label is computed from discounted sums sum_t gamma^(H-1-t) r_t: the last
             steps of a clip weigh most, as a human remembers the end best
  stochastic with beta > 0 the label is Bradley-Terry: P[1 > 2] = sigma(beta (R^1 - R^2))
             (beta is the rationality; beta = 0 means the deterministic oracle 1[R^1 > R^2])
  mistake    with probability eps the label is flipped (1 - mu)

The Bradley-Terry model itself is lecture 003 eq. (1) and lecture 004 (Christiano's P-hat);
see maths/bradley_terry.py. B-Pref sets the skip and equal thresholds relative to the average
segment return; here they are absolute numbers in the units of the reward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rlhf_from_scratch.utils.errors import check, check_unit_interval, unknown


@dataclass
class TeacherConfig:
    beta: float = 0.0  # rationality of the Bradley-Terry teacher; 0 = deterministic oracle
    eps: float = 0.0  # mistake rate: probability of flipping the label
    gamma: float = 1.0  # myopia: weight gamma^(H-1-t) on step t
    skip_threshold: float = -math.inf  # skip when both returns are below it
    equal_threshold: float = 0.0  # answer 0.5 when the returns differ by less than this


# B-Pref's named teachers (each one changes one option of the oracle).
PRESETS: dict[str, dict] = {
    "oracle": {},
    "stoc": {"beta": 1.0},
    "mistake": {"eps": 0.1},
    "myopic": {"gamma": 0.9},
    "skip": {"skip_threshold": 0.0},
    "equal": {"equal_threshold": 0.1},
}


class Teacher:
    """A simulated teacher with a seeded numpy Generator (same seed, same labels)."""

    def __init__(self, config: TeacherConfig | None = None, seed: int = 0) -> None:
        self.config = config or TeacherConfig()
        c = self.config
        check(c.beta >= 0, f"teacher beta (rationality) must be >= 0, got {c.beta}")
        check_unit_interval("teacher eps (mistake rate)", c.eps)
        check(0 < c.gamma <= 1, f"teacher gamma (myopia) must be in (0, 1], got {c.gamma}")
        check(c.equal_threshold >= 0, f"equal_threshold must be >= 0, got {c.equal_threshold}")
        self.rng = np.random.default_rng(seed)

    def label(self, r1: Sequence[float], r2: Sequence[float]) -> float | None:
        """mu for one pair of reward sequences of the same length H."""
        c = self.config
        r1, r2 = np.asarray(r1, dtype=np.float64), np.asarray(r2, dtype=np.float64)
        check(
            r1.shape == r2.shape and r1.ndim == 1 and r1.size > 0,
            f"a teacher compares two reward sequences of the same length, got {r1.shape} "
            f"and {r2.shape}",
        )
        R1, R2 = r1.sum(), r2.sum()
        if max(R1, R2) < c.skip_threshold:
            return None
        if abs(R1 - R2) < c.equal_threshold:
            return 0.5
        H = r1.size
        weights = c.gamma ** np.arange(H - 1, -1, -1)  # gamma^(H-1-t), t = 0..H-1
        D1, D2 = float(weights @ r1), float(weights @ r2)
        if c.beta > 0:
            p_first = 1.0 / (1.0 + math.exp(-c.beta * (D1 - D2)))
            mu = 1.0 if self.rng.random() < p_first else 0.0
        else:
            mu = 1.0 if D1 > D2 else 0.0 if D2 > D1 else 0.5
        if self.rng.random() < c.eps:
            mu = 1.0 - mu
        return mu

    def label_batch(
        self, r1s: Sequence[Sequence[float]], r2s: Sequence[Sequence[float]]
    ) -> list[float | None]:
        return [self.label(a, b) for a, b in zip(r1s, r2s, strict=True)]


def make_teacher(name: str = "oracle", seed: int = 0, **overrides: float) -> Teacher:
    """A B-Pref teacher by name: oracle, stoc, mistake, myopic, skip or equal."""
    if name not in PRESETS:
        raise unknown("teacher", name, PRESETS)
    return Teacher(TeacherConfig(**{**PRESETS[name], **overrides}), seed=seed)
