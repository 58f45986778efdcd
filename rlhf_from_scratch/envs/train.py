"""Training on Gymnasium: the visible loop that ties env, policy and algorithm together.

for update in range(total_updates):
    rollout            = collector.collect()                 # T steps of N envs
    A, R, known        = algo.estimate(rewards, values, terminated, truncated)
    algo.update(rollout.to_batch(A, R, known))
    log metrics; checkpoint every few updates
evaluate the deterministic policy; write summary.json
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from rlhf_from_scratch.algos.common import NonFiniteLossError
from rlhf_from_scratch.algos.registry import ALGOS, get_algo
from rlhf_from_scratch.envs import make
from rlhf_from_scratch.envs.defaults import (
    DEFAULTS,
    RECIPE_LEFT_OUT_BY,
    preference_settings,
    tuned_applies,
    tuned_settings,
)
from rlhf_from_scratch.envs.policies import ActorCritic
from rlhf_from_scratch.envs.rollout import (
    Collector,
    Identity,
    ReturnScaler,
    SignClip,
    as_tensor,
    evaluate,
)
from rlhf_from_scratch.preferences.loop import PreferenceConfig, PreferenceLearner
from rlhf_from_scratch.preferences.segments import segment_length
from rlhf_from_scratch.utils.errors import ConfigError, check, check_positive
from rlhf_from_scratch.utils.machine import keep_freed_memory, machine_info
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import rng_state, set_rng_state, set_seed

# Christiano et al. on Atari (appendix A.2): r_hat normalised to std 0.05 (1 on MuJoCo); the
# predictor trained alongside the RL, about one label per 10 RL steps, on the last 3000 labels,
# with dropout 0.5; the label rate's T0 5e6 frames (1.25M agent steps of 4 frames). A pool of
# 300 clips, as Atari clips are large (25 x 4 x 84 x 84 bytes). The reward model reads the
# frames alone (the paper describes its Atari predictor's input as the stacked frames): with
# the action's one-hot as an input too, a Pong run on the CPU had, by 195k steps, stopped
# taking the three actions that r_hat rated lowest whatever the frame and took NOOP, the
# highest, on 61% of its steps, its entropy falling from 1.79 to ~0.8-1.0 (true reward: 1.67
# at 147k; frames alone: 1.70 at 51k) with no gain in true return (scripts/
# atari_reward_probe.py, benchmarks/atari/preferences/).
# On MuJoCo each refit takes 2 passes over the labels (each member warm-starts from its last
# fit): every MuJoCo preference result in benchmarks/preferences/ was measured so, and the 8
# passes of PreferenceConfig made a 1M-step Hopper run about twice as slow.
PREFERENCE_DEFAULTS = {
    "mujoco": {"rm_epochs": 2},
    "atari": {
        "rm_target_std": 0.05,
        "pool_size": 300,
        "rm_labels_per_step": 0.1,
        "rm_buffer": 3000,
        "rm_dropout": 0.5,
        "label_t0": 1.25e6,
        "rm_actions": False,
    },
}


@dataclass
class TrainConfig:
    algo: str = "ppo"
    env: str = "CartPole-v1"
    total_steps: int = 100_000  # env steps to train for
    seed: int = 1  # seeds the networks, the envs and the sampling
    num_envs: int = 1  # envs stepped side by side
    n_steps: int = 2048  # steps per env between updates (a batch is num_envs x n_steps)
    vectorization: str = "sync"  # "sync" (one process) or "async" (a process per env)
    normalize_obs: bool = False  # observations scaled by running mean and std
    normalize_reward: bool = False  # rewards divided by the running std of the discounted return
    hidden: tuple[int, ...] = (64, 64)  # hidden layer widths of the MLP policy and value
    activation: str = "tanh"  # "tanh" or "relu"
    shared: bool = False  # policy and value share one trunk (the Atari default of PPO and A2C)
    log_std_init: float = 0.0  # initial log std of the Gaussian policy (continuous actions)
    device: str = "cpu"  # "cpu" or "cuda"
    torch_threads: int = 1  # CPU threads torch may use
    compile: bool = False  # torch.compile the loss (PPO; algos.common.compiled): how, not what
    eval_episodes: int = 10  # deterministic episodes at the end (summary.json: eval_return_mean)
    checkpoint_every: int = 10  # updates between checkpoints
    log_every: int = 1000  # env steps between metrics rows (a row per update if updates are
    # longer); a row carries its update's losses and every episode finished since the last row
    video: bool = False  # an MP4 of one evaluation episode (MuJoCo offscreen: MUJOCO_GL=egl)
    reward: str = "env"  # "env" (the true reward) or "preferences" (a reward model of labels)
    fixed_length: bool | None = None  # ignore termination until the time limit (None: on
    # for preference runs outside Atari, off otherwise)
    fall_penalty: float = 10.0  # fixed-length episodes: reward - this on each would-be-terminal
    # step (Hopper's best lying-down gait earns ~2 per step; standing earns >= 1)
    algo_config: dict = field(default_factory=dict)
    preference_config: dict = field(default_factory=dict)

    def validate(self) -> None:
        check_positive("total_steps", self.total_steps)
        check_positive("num_envs", self.num_envs)
        check_positive("n_steps", self.n_steps)
        check(self.fall_penalty >= 0, f"fall_penalty must be >= 0, got {self.fall_penalty}")
        check_positive("checkpoint_every", self.checkpoint_every)
        check_positive("log_every", self.log_every)
        check(self.eval_episodes >= 0, f"eval_episodes must be >= 0, got {self.eval_episodes}")
        check(
            self.device in ("cpu", "cuda") or self.device.startswith("cuda:"),
            f"device must be 'cpu' or 'cuda', got {self.device!r}",
        )
        if self.device.startswith("cuda"):
            check(torch.cuda.is_available(), "device 'cuda' asked for, but no CUDA GPU is visible")
        check(
            self.reward in ("env", "preferences"),
            f"reward must be 'env' or 'preferences', got {self.reward!r}",
        )
        if self.reward == "preferences":
            PreferenceConfig(**self.preference_config).validate()
            clip_length(self)
            check(
                not (self.preference_config.get("absorbing") and self.fixed_length),
                "--absorbing needs episodes that end: with --fixed-length true no clip "
                "shows an end; drop --fixed-length",
            )
            check(
                not (self.preference_config.get("rm_target_mean") and self.episodes_fixed_length),
                "--rm-target-mean adds an alive bonus, which changes nothing when every episode "
                "runs to the time limit, as these do (fixed-length episodes: the default for "
                "preference runs, and naming --rm-target-mean replaces a per-env recipe such as "
                "Hopper's): add --fixed-length false",
            )
            check(
                not self.preference_config.get("scale_returns") or self.normalize_reward,
                "--scale-returns needs --normalize-reward (it puts r_hat through that scaling): "
                "add --normalize-reward or drop --scale-returns",
            )

    @property
    def episodes_fixed_length(self) -> bool:
        if self.fixed_length is not None:
            return self.fixed_length
        if self.preference_config.get("absorbing"):  # clips show the ends: keep them
            return False
        return self.reward == "preferences" and make.env_family(self.env) != "atari"


def default_config(algo: str, env: str, family_defaults: bool = False, **overrides) -> TrainConfig:
    """The literature defaults for (algo, env family); on the true reward, the tuned settings
    for (algo, env) where there are some (defaults.TUNED; with preferences too where
    defaults.TUNED_WITH_PREFERENCES says so), with preferences the per-env recipe
    (defaults.PREFERENCE_TUNED; neither with `family_defaults`); then `overrides` (None means
    'default')."""
    _, algo_cls = get_algo(algo)
    family = make.env_family(env)
    preset = copy.deepcopy(DEFAULTS[(algo, family)])
    algo_fields = {f.name for f in fields(algo_cls)}
    preference_fields = {f.name for f in fields(PreferenceConfig)}
    algo_config = preset.pop("algo")
    if not family_defaults and tuned_applies(algo, env, overrides.get("reward")):
        tuned = copy.deepcopy(tuned_settings(algo, env))
        algo_config.update(tuned.pop("algo", {}))
        preset.update(tuned)
    preference_config = dict(PREFERENCE_DEFAULTS.get(family, {}))
    chosen = {  # the settings this run names itself
        k
        for k, v in {**(overrides.get("preference_config") or {}), **overrides}.items()
        if v is not None
    }
    if (
        not family_defaults
        and overrides.get("reward") == "preferences"
        and not chosen & RECIPE_LEFT_OUT_BY
    ):
        recipe = preference_settings(env, algo)
        if "fixed_length" in recipe:
            preset["fixed_length"] = recipe.pop("fixed_length")
        algo_config.update({k: recipe.pop(k) for k in algo_fields & set(recipe)})
        preference_config.update(recipe)
    train_fields = {f.name for f in fields(TrainConfig)}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "algo_config":
            algo_config.update(value)
        elif key == "preference_config":
            preference_config.update(value)
        elif key in train_fields:
            preset[key] = value
        elif key in algo_fields:
            algo_config[key] = value
        elif key in preference_fields:
            preference_config[key] = value
        else:
            raise ConfigError(f"'{key}' is not a setting of {algo} (or of training)")
    if preset.get("reward", "env") != "preferences":
        check(
            not preference_config or preference_config == PREFERENCE_DEFAULTS.get(family, {}),
            f"{sorted(preference_config)} only apply with --reward preferences",
        )
        preference_config = {}
    elif (
        preference_config.get("absorbing")
        and "scale_returns" not in chosen
        and overrides.get("normalize_reward") is not False  # --no-normalize-reward: left off
    ):
        # the learned alive bonus grows with every refit of the reward model, so r_hat goes
        # through the return scaling: on CartPole +145 over unscaled r_hat (standard error 24),
        # each of the four algorithms at 100 and 300 labels (benchmarks/preferences/four_algorithms);
        # on InvertedPendulum and Hopper not measurably worse (.../absorbing_mujoco)
        preference_config["scale_returns"] = True
        preset["normalize_reward"] = True
    return TrainConfig(
        algo=algo, env=env, algo_config=algo_config, preference_config=preference_config, **preset
    )


def algorithm_config(config: TrainConfig):
    """The algorithm's config dataclass for a run: its defaults, then the run's algo_config."""
    _, algo_config_cls = get_algo(config.algo)
    algo_config = algo_config_cls(**config.algo_config)
    if config.compile:
        check(hasattr(algo_config, "compile"), f"--compile applies to PPO, not to {config.algo}")
        algo_config.compile = True
    algo_config.validate()
    return algo_config


def all_settings(config: TrainConfig) -> dict:
    """Every setting a run of `config` would use, the defaults config.json leaves out included
    (`rlhf train --show-config`); refused as the run itself would be."""
    config.validate()
    settings = asdict(config)
    settings["fixed_length"] = config.episodes_fixed_length
    settings["algo_config"] = asdict(algorithm_config(config))
    if config.reward == "preferences":
        settings["preference_config"] = asdict(PreferenceConfig(**config.preference_config))
        settings["preference_config"]["segment_steps"] = clip_length(config)
    return settings


def comparable(config: dict) -> dict:
    """A run's config.json as two are compared when a run directory is reopened: the nested
    settings (algo_config, preference_config) without those equal to their defaults, so that a
    run naming a default (e.g. --no-scale-returns) continues one that left it out."""
    config = dict(config)
    defaults = {"preference_config": PreferenceConfig()}
    if config.get("algo") in ALGOS:
        defaults["algo_config"] = get_algo(config["algo"])[1]()
    for key, default in defaults.items():
        if isinstance(config.get(key), dict):
            default = json.loads(json.dumps(asdict(default)))  # tuples as config.json has them
            config[key] = {
                k: v for k, v in config[key].items() if k not in default or default[k] != v
            }
    return config


def build(config: TrainConfig):
    """Env, policy and algorithm for a config (also used by tests and notebooks)."""
    config.validate()
    algo_cls, _ = get_algo(config.algo)
    algo_config = algorithm_config(config)
    family = make.env_family(config.env)
    envs = make.make_vec_env(
        config.env,
        config.num_envs,
        config.seed,
        config.vectorization,
        config.normalize_obs,
        fixed_length=config.episodes_fixed_length,
        fall_penalty=config.fall_penalty,
        step_info=False,  # the collector reads no per-step info (Atari keeps its lives: own env)
    )
    policy = ActorCritic(
        envs.single_observation_space,
        envs.single_action_space,
        hidden=tuple(config.hidden),
        activation=config.activation,
        shared=config.shared,
        log_std_init=config.log_std_init,
    ).to(config.device)
    total_updates = math.ceil(config.total_steps / (config.num_envs * config.n_steps))
    algo = algo_cls(policy, algo_config, total_updates)
    if config.reward == "preferences":
        reward_transform = Identity()  # replaced by r_hat after each rollout
    elif family == "atari":
        reward_transform = SignClip()
    elif config.normalize_reward:
        reward_transform = ReturnScaler(config.num_envs, getattr(algo_config, "gamma", 0.99))
    else:
        reward_transform = Identity()
    return envs, policy, algo, reward_transform, total_updates


def clip_length(config: TrainConfig) -> int:
    """Steps per clip of a preference run (checked against the env's episode length)."""
    pc = PreferenceConfig(**config.preference_config)
    length = pc.segment_steps or segment_length(
        make.env_family(config.env), make.env_dt(config.env), pc.segment_seconds
    )
    limit = make.max_episode_steps(config.env)
    check(
        limit is None or length <= limit,
        f"segments of {length} steps are longer than the episodes of {config.env} ({limit} "
        "steps): lower --segment-seconds or --segment-steps",
    )
    return length


def preference_return_scaler(config: TrainConfig, algo) -> ReturnScaler | None:
    """The return scaling r_hat goes through with PreferenceConfig.scale_returns (which needs
    --normalize-reward, checked in TrainConfig.validate), or None."""
    if config.reward != "preferences" or not config.preference_config.get("scale_returns"):
        return None
    return ReturnScaler(config.num_envs, getattr(algo.config, "gamma", 0.99))


def build_preference_learner(config: TrainConfig, envs, run_dir) -> PreferenceLearner:
    pc = PreferenceConfig(**config.preference_config)
    obs_space, action_space = envs.single_observation_space, envs.single_action_space
    discrete = hasattr(action_space, "n")
    length = clip_length(config)
    return PreferenceLearner(
        pc,
        task=make.resolve_env_id(config.env),
        obs_shape=obs_space.shape,
        action_dim=action_space.n if discrete else action_space.shape[0],
        discrete=discrete,
        segment_length=length,
        total_steps=config.total_steps,
        store_path=pc.preference_store or str(Path(run_dir) / "preferences.sqlite"),
        seed=config.seed,
        device=config.device,
        action_bounds=None if discrete else (action_space.low, action_space.high),
    )


def train(
    config: TrainConfig,
    run_dir: str,
    resume: bool = False,
    on_update: Callable[[int, dict], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> dict:
    """Train, writing the run directory; returns the summary (also in summary.json).

    on_start(step) is called once the run has been built and checked (the step it starts from),
    on_update(step, metrics) after every update."""
    torch.set_num_threads(config.torch_threads)
    keep_freed_memory()  # large tensors reuse freed pages: faster on the CPU, the same sums
    set_seed(config.seed)
    envs, policy, algo, reward_transform, total_updates = build(config)
    run = RunDir(run_dir, asdict(config), resume=resume, canonical=comparable)
    collector = Collector(
        envs, policy, config.n_steps, reward_transform, config.seed, config.device
    )
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_update = config.num_envs * config.n_steps
    recent: deque[float] = deque(maxlen=20)
    start_update, wall_before = 0, 0.0
    learner = (
        build_preference_learner(config, envs, run.path) if config.reward == "preferences" else None
    )
    rhat_scaler = preference_return_scaler(config, algo)

    state = run.load_latest_checkpoint() if resume else None
    if state is not None:
        if learner is not None:
            learner.load_state_dict(state["learner"])
        if rhat_scaler is not None:
            rhat_scaler.load_state_dict(state["rhat_scaler"])
        policy.load_state_dict(state["policy"])
        algo.load_state_dict(state["algo"])
        if state["envs"] is not None:  # an exact resume: envs continue mid-episode
            envs.close()
            collector.envs = envs = make.restore(state["envs"])
            collector.load_state_dict(state["collector"])
        else:  # async or Atari envs cannot be pickled: episodes restart
            collector.reward_transform.load_state_dict(state["collector"]["reward_transform"])
            make.set_obs_stats(envs, state["obs_stats"])
        generator.set_state(state["generator"])
        set_rng_state(state["rng"])
        recent.extend(state["recent"])
        start_update, wall_before = state["update"], state["wall_seconds"]

    def checkpoint(update: int, wall: float) -> None:
        run.save_checkpoint(
            {
                "step": update * steps_per_update,
                "update": update,
                "policy": policy.state_dict(),
                "algo": algo.state_dict(),
                "envs": make.snapshot(envs),
                "obs_stats": make.get_obs_stats(envs),
                "collector": collector.state_dict(),
                "generator": generator.get_state(),
                "rng": rng_state(),
                "recent": list(recent),
                "wall_seconds": wall,
                "learner": learner.state_dict() if learner is not None else None,
                "rhat_scaler": rhat_scaler.state_dict() if rhat_scaler is not None else None,
            },
            update * steps_per_update,
        )

    episodes: list[tuple[float, int]] = []  # finished since the last metrics row
    logged_step = start_update * steps_per_update
    t0 = time.perf_counter()
    if on_start is not None:
        on_start(logged_step)
    if learner is not None and state is None:
        # The first labels (25% of the budget) are on clips of the untrained policy.
        warm_up_preferences(learner, collector, envs, steps_per_update, config.total_steps)
    for update in range(start_update, total_updates):
        rollout = collector.collect()
        step = (update + 1) * steps_per_update
        preference_metrics = {}
        if learner is not None:  # the learner never sees the env's reward: r_hat replaces it
            raw_obs = make.raw_observations(envs, rollout.obs)
            rollout.rewards, preference_metrics = learner.rewards(rollout, raw_obs)
            if rhat_scaler is not None:
                done = torch.maximum(rollout.terminated, rollout.truncated)
                scaled = rhat_scaler.scale_rollout(
                    rollout.rewards.cpu().numpy(), done.cpu().numpy(), rollout.mask.cpu().numpy()
                )
                rollout.rewards = as_tensor(scaled, config.device)
            preference_metrics.update(learner.observe(rollout, raw_obs, step))
        advantages, returns, known = algo.estimate(
            rollout.rewards, rollout.values, rollout.terminated, rollout.truncated
        )
        try:
            metrics = algo.update(rollout.to_batch(advantages, returns, known), generator)
        except NonFiniteLossError as error:
            run.close()
            raise NonFiniteLossError(f"at step {step}: {error}") from None
        wall = wall_before + time.perf_counter() - t0
        recent.extend(r for r, _ in rollout.episodes)
        metrics["steps_per_second"] = (step - start_update * steps_per_update) / (
            time.perf_counter() - t0
        )
        episodes += rollout.episodes
        if recent:
            metrics["recent_return"] = float(np.mean(recent))
        metrics["wall_seconds"] = wall
        metrics.update(preference_metrics)
        save = (update + 1) % config.checkpoint_every == 0 or update + 1 == total_updates
        # Short updates (A2C: 5 steps) would write a row every few steps: log this update's
        # row once log_every steps have passed (and before every checkpoint, so a resumed run
        # loses no row), with all the episodes finished since the last row.
        if save or step - logged_step >= config.log_every:
            if episodes:
                metrics["episodic_return"] = float(np.mean([r for r, _ in episodes]))
                metrics["episodic_length"] = float(np.mean([n for _, n in episodes]))
                metrics["episodes"] = len(episodes)
            run.log(step, metrics)
            episodes, logged_step = [], step
        if on_update is not None:
            on_update(step, metrics)
        if save:
            checkpoint(update + 1, wall)

    train_wall = wall_before + time.perf_counter() - t0
    total = total_updates * steps_per_update
    summary = {"steps": total, "wall_seconds": train_wall, "steps_per_second": total / train_wall}
    if recent:
        summary["recent_return"] = float(np.mean(recent))
    if learner is not None:
        summary["labels_used"] = learner.labels_used
        summary.update({k: v for k, v in learner.fit_metrics.items() if k.startswith("rm_val")})
        learner.store.close()
    if config.eval_episodes:
        summary.update(evaluate_run(policy, envs, config))
    if config.video:
        summary["videos"] = record_videos(policy, envs, config, run.path / "videos")
    summary["machine"] = machine_info()  # what another run needs to give the same numbers
    run.write_summary(summary)
    run.close()
    envs.close()
    return summary


def warm_up_preferences(learner, collector, envs, steps_per_update: int, total_steps: int) -> int:
    """Fill the clip pool from the untrained policy, label the first batch, fit the model.

    These rollouts teach the policy nothing; they are not counted in the training steps (at
    most 5% of them). Returns the env steps spent.
    """
    spent = 0
    wanted = min(
        learner.config.pool_size, 4 * learner.config.labels * learner.config.initial_fraction
    )
    while spent == 0 or (
        len(learner.pool) < wanted and spent + steps_per_update <= total_steps // 20
    ):
        rollout = collector.collect()
        learner.add_clips(rollout, make.raw_observations(envs, rollout.obs))
        spent += steps_per_update
    learner.label_due(0)
    learner.refit()
    return spent


def evaluate_run(policy: ActorCritic, train_envs, config: TrainConfig) -> dict:
    """Deterministic evaluation on fresh envs that share the frozen observation statistics."""
    eval_envs = make.make_vec_env(
        config.env, min(config.eval_episodes, 8), config.seed + 10_000, "sync", config.normalize_obs
    )
    make.set_obs_stats(eval_envs, make.get_obs_stats(train_envs), update=False)
    episodes = evaluate(
        policy, eval_envs, config.eval_episodes, config.seed + 10_000, device=config.device
    )
    eval_envs.close()
    returns = np.array([r for r, _ in episodes])
    return {
        "eval_return_mean": float(returns.mean()),
        "eval_return_std": float(returns.std()),
        "eval_episodes": len(episodes),
        "eval_length_mean": float(np.mean([n for _, n in episodes])),
    }


def record_videos(policy: ActorCritic, train_envs, config: TrainConfig, folder) -> list[str]:
    """One deterministic evaluation episode as an MP4 (Gymnasium's RecordVideo; needs moviepy).

    MuJoCo renders offscreen with MUJOCO_GL=egl on a machine without a display.
    """
    check(
        make.env_family(config.env) != "atari", "--video works for classic control and MuJoCo envs"
    )
    try:
        import moviepy  # noqa: F401  (RecordVideo writes MP4 through it)
    except ImportError:
        raise ConfigError("--video needs moviepy: pip install moviepy") from None
    import gymnasium as gym

    envs = make.make_vec_env(
        config.env, 1, config.seed + 20_000, "sync", config.normalize_obs, render_mode="rgb_array"
    )
    make.set_obs_stats(envs, make.get_obs_stats(train_envs), update=False)
    envs = gym.wrappers.vector.RecordVideo(envs, str(folder), episode_trigger=lambda i: i == 0)
    evaluate(policy, envs, 1, config.seed + 20_000, device=config.device)
    envs.close()
    return sorted(str(p.relative_to(folder.parent)) for p in folder.glob("*.mp4"))
