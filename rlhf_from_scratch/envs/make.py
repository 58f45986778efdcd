"""Vectorised Gymnasium environments: classic control, MuJoCo v5 and Atari v5.

Every maker returns a Gymnasium `VectorEnv` in NEXT_STEP autoreset mode: after an episode ends,
the *next* `step` call resets that env (its action is ignored, its reward is 0). The rollout
marks such steps with mask = 0, and the observation returned at the end of an episode is the
true final observation, which is what a time-limit cut needs for bootstrapping V(s_T).

Atari follows the 37 implementation details of PPO: no-op reset (<= 30), 4 frames skipped by the
v5 env itself (never again), max-pool of the last two, fire reset, 84x84 grey, frame stack 4,
sticky actions 0.25. Reward sign-clipping is done by the learner's reward transform, so the
collector still sees the true score. No episodic life: ale_py's vector env (0.12) resets the
whole game at every lost life when it is on, so Breakout would only ever be played with one
life (an episode ends when the game does, as Machado et al. 2018 recommend).
"""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np

from rlhf_from_scratch.utils.errors import ConfigError, check, did_you_mean

try:  # registers the ALE/... ids; Atari is optional at import time
    import ale_py

    gym.register_envs(ale_py)
except ImportError:  # pragma: no cover
    ale_py = None

FAMILIES = ("classic", "mujoco", "atari")


def resolve_env_id(env_id: str) -> str:
    """'Pong-v5' -> 'ALE/Pong-v5'; an unknown id raises with a close-match suggestion."""
    if env_id in gym.registry:
        return env_id
    if f"ALE/{env_id}" in gym.registry:
        return f"ALE/{env_id}"
    names = [n for n in gym.registry if "NoFrameskip" not in n and not n.startswith("ALE/")]
    names += [n.removeprefix("ALE/") for n in gym.registry if n.startswith("ALE/")]
    raise ConfigError(f"unknown env '{env_id}'{did_you_mean(env_id, names)}")


def env_family(env_id: str) -> str:
    """'classic', 'mujoco' or 'atari': which defaults and which network an env gets."""
    spec = gym.spec(resolve_env_id(env_id))
    entry = str(spec.entry_point)
    if entry.startswith("ale_py"):
        check(
            spec.id.startswith("ALE/") and spec.id.endswith("-v5"),
            f"Atari env '{env_id}': use the v5 ids (e.g. 'ALE/Pong-v5' or 'Pong-v5'), which skip 4 "
            "frames and use sticky actions",
        )
        return "atari"
    if "mujoco" in entry:
        return "mujoco"
    return "classic"


def make_vec_env(
    env_id: str,
    num_envs: int = 1,
    seed: int = 0,
    vectorization: str = "sync",
    normalize_obs: bool = False,
    clip_obs: float = 10.0,
    render_mode: str | None = None,
    fixed_length: bool = False,
    fall_penalty: float = 0.0,
    step_info: bool = True,
) -> gym.vector.VectorEnv:
    """A seeded, reset-ready vector env of `num_envs` copies of `env_id`.

    fixed_length: termination is ignored until the time limit (see preferences/loop.py), and
    `fall_penalty` is subtracted from the reward of every step that would have ended it.
    step_info=False: `step` returns an empty info dict (classic control and MuJoCo). Training
    reads nothing from it, and Gymnasium's vector env gathers every key of every env's info
    into arrays at each step (~12 us of a ~200 us Hopper step; benchmarks/throughput).
    """
    check(num_envs >= 1, f"num_envs must be >= 1, got {num_envs}")
    check(
        vectorization in ("sync", "async"),
        f"vectorization must be 'sync' or 'async', got {vectorization!r}",
    )
    env_id = resolve_env_id(env_id)
    if env_family(env_id) == "atari":
        envs = make_atari_vec_env(env_id, num_envs)
    else:
        kwargs = {"render_mode": render_mode} if render_mode else {}

        def make_one() -> gym.Env:
            env = gym.make(env_id, **kwargs)
            if fixed_length:
                env = IgnoreTermination(env, fall_penalty)
            return env if step_info else NoStepInfo(env)

        cls = gym.vector.SyncVectorEnv if vectorization == "sync" else gym.vector.AsyncVectorEnv
        # The normaliser below hands out a new array at every step, so the vector env need not
        # copy its observation buffer first (`copy=False`: ~6 us a step with one env).
        envs = cls([make_one for _ in range(num_envs)], copy=not normalize_obs)
        if vectorization == "sync":
            envs.env_fns = None  # local functions cannot be pickled into a checkpoint
        if normalize_obs:
            envs = ClippedNormalizeObservation(envs, clip_obs)
    envs.action_space.seed(seed)
    return envs


class ClippedNormalizeObservation(gym.wrappers.vector.NormalizeObservation):
    """Gymnasium's NormalizeObservation followed by a clip to [-clip, clip], in one wrapper.

    The statistics are the same running mean and variance (`update_running_moments`); it is
    written out because Gymnasium's generic update costs more than the arithmetic on the
    one-row batches of a single env, and this runs at every env step.
    """

    def __init__(self, env: gym.vector.VectorEnv, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__(env, epsilon)
        self.clip = clip

    def observations(self, observations: np.ndarray) -> np.ndarray:
        if self.update_running_mean:
            update_running_moments(self.obs_rms, observations)
        scaled = (observations - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return clip_in_place(scaled, self.clip).astype(np.float32)


def update_running_moments(rms, batch: np.ndarray) -> None:
    """Fold a batch (rows = samples) into a RunningMeanStd's mean, variance and count.

    Chan et al.'s parallel update, as Gymnasium's `update_mean_var_count_from_moments`:
        n = count + m,  delta = mean_b - mean,  mean += delta m / n,
        var = (var count + var_b m + delta^2 count m / n) / n
    With one row (one env) var_b = 0 and the batch mean is the row itself (Welford's update),
    which saves half the array operations of the general case.
    """
    m = batch.shape[0]
    total = rms.count + m
    if m == 1:
        delta = batch[0] - rms.mean
        rms.var = (rms.var * rms.count + delta * delta * (rms.count / total)) / total
    else:
        mean_b = batch.mean(0)
        delta = mean_b - rms.mean
        spread = ((batch - mean_b) ** 2).sum(0)
        rms.var = (rms.var * rms.count + spread + delta * delta * (rms.count * m / total)) / total
    rms.mean = rms.mean + delta * (m / total)
    rms.count = total


def clip_in_place(x: np.ndarray, bound: float) -> np.ndarray:
    """np.clip(x, -bound, bound) written into x (two ufunc calls; np.clip's checks cost more)."""
    return np.minimum(np.maximum(x, -bound, out=x), bound, out=x)


class IgnoreTermination(gym.Wrapper):
    """Episodes run to the time limit even after the task says 'terminated' (the agent fell).

    Without termination, falling costs nothing: a Hopper that lies down and scoots forward
    earns about as much true reward as one that hops (we saw exactly that: 1115 per 1000 steps
    lying, 24 steps standing). So, as Christiano et al. 2017 did for their fixed-length MuJoCo
    tasks, a penalty takes termination's place: `penalty` is subtracted on every step the env
    reports as terminal (outside its healthy range). It is part of the hidden reward the
    simulated labeler sees; evaluation uses the plain env.
    """

    def __init__(self, env: gym.Env, penalty: float = 0.0):
        super().__init__(env)
        self.penalty = penalty

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["task_terminated"] = terminated
        return obs, reward - self.penalty * float(terminated), False, truncated, info


class NoStepInfo(gym.Wrapper):
    """`step` returns an empty info dict (see make_vec_env's step_info)."""

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        return obs, reward, terminated, truncated, {}


def max_episode_steps(env_id: str) -> int | None:
    """The time limit of an env's episodes, in agent steps (None if it has none)."""
    spec = gym.spec(resolve_env_id(env_id))
    if env_family(env_id) == "atari":
        return spec.kwargs.get("max_num_frames_per_episode", 108_000) // 4
    return spec.max_episode_steps


def env_dt(env_id: str) -> float | None:
    """Seconds of simulated time per step (MuJoCo's dt, CartPole's tau), or None."""
    env = gym.make(resolve_env_id(env_id)).unwrapped
    dt = getattr(env, "dt", None) or getattr(env, "tau", None)
    env.close()
    return float(dt) if dt else None


def make_atari_vec_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """ale_py's C++ AtariVectorEnv with the standard preprocessing (threads step the games)."""
    spec = gym.spec(env_id)
    return ale_py.AtariVectorEnv(
        spec.kwargs["game"],
        num_envs=num_envs,
        repeat_action_probability=spec.kwargs.get("repeat_action_probability", 0.25),
        frameskip=4,
        noop_max=30,
        episodic_life=False,  # True restarts the game at each lost life (see the docstring)
        use_fire_reset=True,
        reward_clipping=False,
        img_height=84,
        img_width=84,
        grayscale=True,
        stack_num=4,
    )


# ---- observation statistics ----------------------------------------------------------------
def obs_normalizer(envs: gym.vector.VectorEnv):
    """The NormalizeObservation wrapper inside `envs` (it holds obs_rms), or None."""
    env = envs
    while env is not None:
        if isinstance(env, gym.wrappers.vector.NormalizeObservation):
            return env
        env = getattr(env, "env", None)
    return None


def get_obs_stats(envs: gym.vector.VectorEnv) -> dict | None:
    wrapper = obs_normalizer(envs)
    if wrapper is None:
        return None
    rms = wrapper.obs_rms
    return {"mean": rms.mean.copy(), "var": rms.var.copy(), "count": rms.count}


def raw_observations(envs: gym.vector.VectorEnv, obs):
    """Undo NormalizeObservation: obs * sqrt(var + eps) + mean (what a reward model reads)."""
    wrapper = obs_normalizer(envs)
    if wrapper is None:
        return obs
    import torch

    std = torch.as_tensor(np.sqrt(wrapper.obs_rms.var + wrapper.epsilon), dtype=obs.dtype)
    return obs * std.to(obs.device) + torch.as_tensor(wrapper.obs_rms.mean, dtype=obs.dtype).to(
        obs.device
    )


def set_obs_stats(envs: gym.vector.VectorEnv, stats: dict | None, update: bool = True) -> None:
    """Load saved statistics (and freeze them with update=False, as evaluation does)."""
    wrapper = obs_normalizer(envs)
    if wrapper is None:
        return
    if stats is not None:
        wrapper.obs_rms.mean, wrapper.obs_rms.var = stats["mean"].copy(), stats["var"].copy()
        wrapper.obs_rms.count = stats["count"]
    wrapper.update_running_mean = update


# ---- snapshots for an exact resume ---------------------------------------------------------
_MUJOCO_FIELDS = ("qpos", "qvel", "act", "qacc_warmstart", "ctrl")


def snapshot(envs: gym.vector.VectorEnv) -> bytes | None:
    """Pickle a sync vector env mid-episode (None where that is impossible: async, Atari).

    MuJoCo envs re-create their simulator when unpickled, so the physics state and the env's
    random generator are saved beside them and put back by `restore`.
    """
    base = envs.unwrapped
    if not isinstance(base, gym.vector.SyncVectorEnv):
        return None
    physics = []
    for env in base.envs:
        inner = env.unwrapped
        if hasattr(inner, "data") and hasattr(inner, "model"):
            fields = {f: getattr(inner.data, f).copy() for f in _MUJOCO_FIELDS}
            physics.append(
                {"time": inner.data.time, "rng": inner.np_random.bit_generator.state, **fields}
            )
        else:
            physics.append(None)
    return pickle.dumps((envs, physics))


def restore(blob: bytes) -> gym.vector.VectorEnv:
    import mujoco

    envs, physics = pickle.loads(blob)
    for env, state in zip(envs.unwrapped.envs, physics):
        if state is None:
            continue
        inner = env.unwrapped
        for f in _MUJOCO_FIELDS:
            getattr(inner.data, f)[:] = state[f]
        inner.data.time = state["time"]
        inner.np_random.bit_generator.state = state["rng"]
        mujoco.mj_forward(inner.model, inner.data)
    return envs
