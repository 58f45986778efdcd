"""The gym rollout: run the policy in a vector env for T steps and fill the algorithms' batch.

The collector keeps the *true* reward beside the reward the learner is given (scaled, sign-
clipped, or later a reward model's r_hat): episodic returns are always measured on the true
reward, whatever the learner sees.

Rollout tensors are time-major [T, N] (T steps of N envs); values have T + 1 rows, where
values[t + 1] after an episode end is V(final observation) -- see maths/returns.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers.utils import RunningMeanStd

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.envs.make import clip_in_place, update_running_moments
from rlhf_from_scratch.envs.policies import ActorCritic


def as_tensor(x: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """numpy -> torch on `device`; float64 observations become float32 (the networks' dtype)."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        x = x.astype(np.float32)
    return torch.from_numpy(x).to(device)


# ---- rewards the learner is given ------------------------------------------------------------
class ReturnScaler:
    """r / std(discounted return), then clip (the 37 details; Gymnasium's NormalizeReward).

    Written here rather than taken as an env wrapper so that the collector still sees the true
    reward: the scaling happens between the env and the learner.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon
        self.rms = RunningMeanStd(shape=())
        self.discounted = np.zeros(num_envs)

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.discounted = self.discounted * self.gamma * (1 - done) + reward
        update_running_moments(self.rms, self.discounted)
        return clip_in_place(reward / np.sqrt(self.rms.var + self.epsilon), self.clip)

    def scale_rollout(self, rewards: np.ndarray, done: np.ndarray, real: np.ndarray) -> np.ndarray:
        """A [T, N] block scaled step by step, as the collector would have (r_hat is scored
        after the rollout, so its scaling comes after too)."""
        out = np.empty(rewards.shape)
        for t in range(len(rewards)):
            out[t] = self(rewards[t].astype(np.float64), done[t]) * real[t]
        return out

    def state_dict(self) -> dict:
        return {
            "mean": self.rms.mean,
            "var": self.rms.var,
            "count": self.rms.count,
            "discounted": self.discounted.copy(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.rms.mean, self.rms.var, self.rms.count = state["mean"], state["var"], state["count"]
        self.discounted = state["discounted"].copy()


class Stateless:
    """A reward transform with nothing to checkpoint."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class SignClip(Stateless):
    """sign(r): Atari scores on one scale (Mnih et al. 2015)."""

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        return np.sign(reward)


class Identity(Stateless):
    """The env's reward as it is (or a placeholder that r_hat replaces)."""

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        return reward


# ---- episodes, counted on the true reward ----------------------------------------------------
class EpisodeTracker:
    """Sums true rewards per env and reports finished episodes (whole games on Atari).

    With episodic life an Atari 'episode' ends at each lost life; the game ends when the
    env reports no lives left (or a time-limit cut), and only then is a return reported.
    """

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, dtype=np.int64)

    def step(self, reward, terminated, truncated, info, real) -> list[tuple[float, int]]:
        self.returns += reward * real
        self.lengths += real
        game_over = terminated | truncated
        if "lives" in info:
            game_over = truncated | (terminated & (np.asarray(info["lives"]) == 0))
        finished = []
        if not game_over.any():  # most steps
            return finished
        for i in np.flatnonzero(game_over):
            finished.append((float(self.returns[i]), int(self.lengths[i])))
            self.returns[i], self.lengths[i] = 0.0, 0
        return finished

    def state_dict(self) -> dict:
        return {"returns": self.returns.copy(), "lengths": self.lengths.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.returns, self.lengths = state["returns"].copy(), state["lengths"].copy()


@dataclass
class Rollout:
    obs: torch.Tensor  # [T, N, ...]
    actions: torch.Tensor  # [T, N, ...]
    logp: torch.Tensor  # [T, N]
    values: torch.Tensor  # [T + 1, N]
    rewards: torch.Tensor  # [T, N] what the learner is given
    true_rewards: torch.Tensor  # [T, N] the env's own reward
    terminated: torch.Tensor  # [T, N]
    truncated: torch.Tensor  # [T, N]
    mask: torch.Tensor  # [T, N] 0 on autoreset steps
    episodes: list[tuple[float, int]] = field(default_factory=list)

    def to_batch(
        self, advantages: torch.Tensor, returns: torch.Tensor, known: torch.Tensor
    ) -> Batch:
        """Flatten [T, N] -> [T * N] into the algorithms' batch."""
        T, N = self.rewards.shape
        flat = lambda x: x.reshape(T * N, *x.shape[2:])  # noqa: E731
        return Batch(
            obs=flat(self.obs),
            actions=flat(self.actions),
            logp_old=flat(self.logp),
            advantages=flat(advantages),
            returns=flat(returns),
            values_old=flat(self.values[:T]),
            mask=flat(self.mask * known),
        )


class Collector:
    """Steps a vector env with a policy; `collect()` returns the next T-step Rollout."""

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        policy: ActorCritic,
        n_steps: int,
        reward_transform: Callable[[np.ndarray, np.ndarray], np.ndarray],
        seed: int,
        device: torch.device | str = "cpu",
    ):
        self.envs, self.policy, self.n_steps = envs, policy, n_steps
        self.reward_transform, self.device = reward_transform, torch.device(device)
        self.num_envs = envs.num_envs
        obs, _ = envs.reset(seed=seed)
        self.obs = obs
        self.autoreset = np.zeros(self.num_envs, dtype=bool)
        self.tracker = EpisodeTracker(self.num_envs)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return as_tensor(x, self.device)

    def collect(self) -> Rollout:
        T, N = self.n_steps, self.num_envs
        sample = self.policy.sampler(T, N)  # the policy does not change while collecting
        obs_buf = np.zeros((T + 1, *self.obs.shape), dtype=self.obs.dtype)
        act_buf = None
        rew = np.zeros((T, N), dtype=np.float32)
        true_rew = np.zeros((T, N), dtype=np.float32)
        term = np.zeros((T, N), dtype=np.float32)
        trunc = np.zeros((T, N), dtype=np.float32)
        mask = np.zeros((T, N), dtype=np.float32)
        episodes = []
        for t in range(T):
            action = sample(t, self.obs)
            next_obs, reward, terminated, truncated, info = self.envs.step(
                self.policy.env_action(action)
            )
            if act_buf is None:
                act_buf = np.zeros((T, *action.shape), dtype=action.dtype)
            real = ~self.autoreset  # this step reset an env: not a real transition
            done = terminated | truncated
            obs_buf[t], act_buf[t] = self.obs, action
            true_rew[t] = reward
            rew[t] = self.reward_transform(np.asarray(reward, dtype=np.float64), done) * real
            term[t], trunc[t], mask[t] = terminated, truncated, real
            episodes += self.tracker.step(reward, terminated, truncated, info, real)
            self.obs, self.autoreset = next_obs, done
        obs_buf[T] = self.obs
        # The policy did not change while collecting: score all T steps (and V of the last
        # observation) in one batched forward instead of T small ones.
        to = self._tensor
        obs, actions = to(obs_buf), to(act_buf)
        logp, values = self.policy.score(
            obs.flatten(0, 1), torch.cat([actions, actions[:1]]).flatten(0, 1)
        )
        return Rollout(
            obs=obs[:T],
            actions=actions,
            logp=logp.view(T + 1, N)[:T],
            values=values.view(T + 1, N),
            rewards=to(rew),
            true_rewards=to(true_rew),
            terminated=to(term),
            truncated=to(trunc),
            mask=to(mask),
            episodes=episodes,
        )

    def state_dict(self) -> dict:
        return {
            "obs": self.obs,
            "autoreset": self.autoreset.copy(),
            "tracker": self.tracker.state_dict(),
            "reward_transform": self.reward_transform.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.obs, self.autoreset = state["obs"], state["autoreset"].copy()
        self.tracker.load_state_dict(state["tracker"])
        self.reward_transform.load_state_dict(state["reward_transform"])


def run_episodes(
    act: Callable[[np.ndarray], np.ndarray],
    envs: gym.vector.VectorEnv,
    n_episodes: int,
    seed: int,
    env_action: Callable[[np.ndarray], np.ndarray] = lambda action: action,
    record: bool = False,
) -> tuple[list[tuple[float, int]], np.ndarray | None, np.ndarray | None]:
    """Whole episodes (games) with `act` (a batch of observations -> actions).

    Returns their (return, length) and, with record=True, the (observation, action) of every
    real step taken (a demonstrator's data for behaviour cloning; autoreset steps left out).
    """
    obs, _ = envs.reset(seed=seed)
    tracker = EpisodeTracker(envs.num_envs)
    autoreset = np.zeros(envs.num_envs, dtype=bool)
    episodes: list[tuple[float, int]] = []
    seen, taken = [], []
    while len(episodes) < n_episodes:
        action = act(obs)
        if record:
            seen.append(obs[~autoreset])
            taken.append(action[~autoreset])
        obs, reward, terminated, truncated, info = envs.step(env_action(action))
        episodes += tracker.step(reward, terminated, truncated, info, ~autoreset)
        autoreset = terminated | truncated
    if not record:
        return episodes[:n_episodes], None, None
    return episodes[:n_episodes], np.concatenate(seen), np.concatenate(taken)


@torch.no_grad()
def evaluate(
    policy: ActorCritic,
    envs: gym.vector.VectorEnv,
    n_episodes: int,
    seed: int,
    deterministic: bool = True,
    device: torch.device | str = "cpu",
) -> list[tuple[float, int]]:
    """Run whole episodes (games) with the (deterministic) policy; returns (return, length)."""

    def act(obs: np.ndarray) -> np.ndarray:
        return policy.act(as_tensor(obs, device), deterministic).cpu().numpy()

    return run_episodes(act, envs, n_episodes, seed, policy.env_action)[0]
