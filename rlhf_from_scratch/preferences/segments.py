"""Segments: short clips cut from rollouts, the things a labeler compares.

Christiano et al. 2017 (lecture 000, 004): clips of 1-2 seconds -- 1.5 s of simulated time on
MuJoCo (the number of steps follows from the env's dt), 25 agent steps on Atari. A segment
keeps the observations and actions (what the reward model reads) and the true rewards (what
only the synthetic labeler and the evaluation may see).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rlhf_from_scratch.utils.errors import check


@dataclass
class Segment:
    obs: np.ndarray  # [H, ...] raw observations (not normalised)
    actions: np.ndarray  # [H, ...]
    true_rewards: np.ndarray  # [H]
    # Steps before the episode ended (None: all H). A clip that shows the end of an episode
    # (the hopper falls) goes on in the absorbing state after it: zero obs, actions, rewards.
    alive_steps: int | None = None

    def __len__(self) -> int:
        return len(self.true_rewards)

    def alive(self) -> np.ndarray:
        """[H] True on the steps of the episode, False in the absorbing state after its end."""
        steps = len(self) if self.alive_steps is None else self.alive_steps
        return np.arange(len(self)) < steps


def segment_length(
    family: str, dt: float | None, seconds: float = 1.5, atari_steps: int = 25
) -> int:
    """Steps per clip: `seconds` of simulated time (MuJoCo, classic), 25 steps on Atari."""
    if family == "atari" or not dt:
        return atari_steps
    return max(2, round(seconds / dt))


def cut_segments(
    obs: torch.Tensor,
    actions: torch.Tensor,
    true_rewards: torch.Tensor,
    mask: torch.Tensor,
    done: torch.Tensor,
    length: int,
    count: int,
    rng: np.random.Generator,
    terminated: torch.Tensor | None = None,
) -> list[Segment]:
    """Up to `count` random clips of `length` steps from a time-major rollout [T, N].

    A clip lies inside one episode: all its steps are real (mask 1) and no episode ends
    before its last step. Given `terminated`, clips may also run past the end of an episode
    that terminated (not one cut by a time limit: what follows it is unknown): the rest of
    the clip is the absorbing state, so a labeler sees the fall and what it cost.
    """
    T, N = mask.shape
    check(
        length <= T,
        f"segments of {length} steps are longer than the rollouts ({T} steps): "
        "lower --segment-seconds or raise --n-steps",
    )
    real = mask.bool().cpu().numpy()
    ended = done.bool().cpu().numpy()
    # valid[t, n]: the window [t, t + length) is one stretch of a single episode
    bad = ~real
    bad[:-1] |= ended[:-1]  # an end at step t forbids windows that continue past t
    bad_until = np.cumsum(np.concatenate([np.zeros((1, N)), bad]), axis=0)
    starts = np.arange(T - length + 1)
    # the last step of a window may end the episode; earlier ones may not
    window_bad = bad_until[starts + length - 1] - bad_until[starts]
    window_bad += ~real[starts + length - 1]
    t_idx, n_idx = np.nonzero(window_bad == 0)
    alive = np.full(len(t_idx), length)
    if terminated is not None:  # windows [t, e] of an episode that terminates at e, padded
        ends_t, ends_n = np.nonzero(terminated.bool().cpu().numpy() & real)
        for e, n in zip(ends_t, ends_n):
            t = np.arange(max(0, e - length + 2), e + 1)  # the end falls before the last step
            t = t[bad_until[e, n] - bad_until[t, n] == 0]  # real steps, no earlier end
            t_idx, n_idx = np.concatenate([t_idx, t]), np.concatenate([n_idx, np.full_like(t, n)])
            alive = np.concatenate([alive, e + 1 - t])
    if len(t_idx) == 0:
        return []
    picks = rng.choice(len(t_idx), size=min(count, len(t_idx)), replace=False)
    arrays = [x.cpu().numpy() for x in (obs, actions, true_rewards)]
    return [
        _clip(arrays, t, n, length, int(steps))
        for t, n, steps in zip(t_idx[picks], n_idx[picks], alive[picks])
    ]


def _clip(arrays: list[np.ndarray], t: int, n: int, length: int, steps: int) -> Segment:
    """Steps [t, t + steps) of column n, then zeros (the absorbing state) up to `length`."""
    obs, actions, rewards = (
        np.concatenate([x[t : t + steps, n], np.zeros((length - steps, *x.shape[2:]), x.dtype)])
        for x in arrays
    )
    return Segment(
        obs=obs,
        actions=actions,
        true_rewards=rewards.astype(np.float64),
        alive_steps=None if steps == length else steps,
    )


class SegmentPool:
    """The most recent clips, from which queries are drawn (old behaviour is forgotten).

    A checkpoint keeps the newest clips that fit in `checkpoint_bytes` (64 MiB: all of a
    MuJoCo pool), so a resumed run queries the clips an unbroken run would. Without them a run
    whose episodes rarely hold a whole clip stops labelling. The learner keeps none of an
    Atari pool (see PreferenceLearner).
    """

    checkpoint_bytes = 64 * 2**20

    def __init__(
        self, capacity: int, rng: np.random.Generator, checkpoint_bytes: int | None = None
    ):
        self.capacity, self.rng = capacity, rng
        if checkpoint_bytes is not None:
            self.checkpoint_bytes = checkpoint_bytes
        self.segments: list[Segment] = []

    def add(self, segments: list[Segment]) -> None:
        self.segments = (self.segments + segments)[-self.capacity :]

    def __len__(self) -> int:
        return len(self.segments)

    def state_dict(self) -> dict:
        keep = 0
        for segment in reversed(self.segments):
            size = segment.obs.nbytes + segment.actions.nbytes + segment.true_rewards.nbytes
            if size * (keep + 1) > self.checkpoint_bytes:
                break
            keep += 1
        kept = self.segments[len(self.segments) - keep :]
        if not kept:
            return {"obs": None, "actions": None, "true_rewards": None}
        state = {  # clips in a pool share one length: stacked arrays
            field: np.stack([getattr(segment, field) for segment in kept])
            for field in ("obs", "actions", "true_rewards")
        }
        state["alive_steps"] = [segment.alive_steps for segment in kept]
        return state

    def load_state_dict(self, state: dict) -> None:
        if state["obs"] is None:
            self.segments = []
            return
        alive = state.get("alive_steps", [None] * len(state["obs"]))
        self.segments = [
            Segment(*arrays, alive_steps=steps)
            for *arrays, steps in zip(state["obs"], state["actions"], state["true_rewards"], alive)
        ]

    def random_pairs(self, n: int) -> list[tuple[Segment, Segment]]:
        check(len(self) >= 2, "the segment pool needs at least two clips to make a query")
        pairs = []
        for _ in range(n):
            i, j = self.rng.choice(len(self), size=2, replace=False)
            pairs.append((self.segments[i], self.segments[j]))
        return pairs
