import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhf_from_scratch.envs import make
from rlhf_from_scratch.envs.policies import ActorCritic
from rlhf_from_scratch.envs.rollout import EpisodeTracker
from rlhf_from_scratch.utils.errors import ConfigError


def test_families():
    assert make.env_family("CartPole-v1") == "classic"
    assert make.env_family("Hopper-v5") == "mujoco"
    assert make.env_family("Pong-v5") == "atari"
    assert make.env_family("ALE/Breakout-v5") == "atari"


def test_unknown_env_suggests_a_close_match():
    with pytest.raises(ConfigError, match="did you mean 'Hopper-v5'"):
        make.env_family("Hoper-v5")


def test_old_atari_ids_are_refused_with_advice():
    with pytest.raises(ConfigError, match="v5"):
        make.env_family("PongNoFrameskip-v4")


def test_normalized_observations_are_clipped_and_stats_roundtrip():
    envs = make.make_vec_env("Hopper-v5", num_envs=2, seed=0, normalize_obs=True)
    envs.reset(seed=0)
    for _ in range(20):
        obs, *_ = envs.step(envs.action_space.sample())
    assert np.abs(obs).max() <= 10.0
    stats = make.get_obs_stats(envs)
    other = make.make_vec_env("Hopper-v5", num_envs=1, seed=1, normalize_obs=True)
    make.set_obs_stats(other, stats, update=False)
    assert np.array_equal(make.get_obs_stats(other)["mean"], stats["mean"])
    other.reset(seed=0)
    other.step(other.action_space.sample())
    assert np.array_equal(make.get_obs_stats(other)["mean"], stats["mean"])  # frozen


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Hopper-v5"])
def test_snapshot_restores_envs_mid_episode_exactly(env_id):
    envs = make.make_vec_env(env_id, num_envs=2, seed=0, normalize_obs=True)
    envs.reset(seed=0)
    for _ in range(30):
        envs.step(envs.action_space.sample())
    copy = make.restore(make.snapshot(envs))
    for _ in range(200):
        action = envs.action_space.sample()
        a, b = envs.step(action), copy.step(action)
        for x, y in zip(a[:4], b[:4]):
            assert np.array_equal(x, y)


def test_atari_vector_env_is_preprocessed():
    envs = make.make_vec_env("Pong-v5", num_envs=2, seed=0)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert make.snapshot(envs) is None  # the C++ vector env cannot be pickled
    envs.close()


def test_an_action_space_the_policies_cannot_handle_is_refused():
    obs_space = gym.spaces.Box(-1, 1, (3,))
    with pytest.raises(ConfigError, match="not supported"):
        ActorCritic(obs_space, gym.spaces.MultiDiscrete([2, 3]))


def test_gaussian_policy_sums_log_probs_and_clips_only_what_the_env_gets():
    obs_space = gym.spaces.Box(-1, 1, (3,))
    act_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    policy = ActorCritic(obs_space, act_space)
    obs = torch.randn(5, 3)
    dist = policy.dist(obs)
    action = torch.full((5, 2), 3.0)  # far outside the bounds
    mean, std = dist.base_dist.mean, dist.base_dist.stddev
    manual = torch.distributions.Normal(mean, std).log_prob(action).sum(-1)
    assert torch.allclose(dist.log_prob(action), manual)
    assert policy.env_action(action).max() == 1.0
    assert action.max() == 3.0


def test_orthogonal_init_gains():
    policy = ActorCritic(gym.spaces.Box(-1, 1, (8,)), gym.spaces.Discrete(4))
    w = policy.actor_head.weight.detach()  # gain 0.01: rows are orthonormal x 0.01
    assert torch.allclose(w @ w.T, 1e-4 * torch.eye(4), atol=1e-6)
    assert torch.all(policy.critic_head.bias == 0)


def test_a_breakout_game_runs_through_all_its_lives():
    """The real env, not a hand-made info dict: losing a life must not restart the game (a
    bug ale_py's episodic_life option brought in), and the tracker reports one whole game."""
    envs = make.make_vec_env("Breakout-v5", num_envs=1, seed=0)
    tracker = EpisodeTracker(1)
    envs.reset(seed=0)
    lives, finished = [], []
    for _ in range(5000):
        _, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        lives.append(int(info["lives"][0]))
        finished += tracker.step(reward, terminated, truncated, info, np.array([True]))
        if finished:
            break
    envs.close()
    assert finished, "no Breakout game finished in 5000 random steps"
    assert lives[-1] == 0 and set(range(1, 6)) <= set(lives), sorted(set(lives))


def test_fixed_length_episodes_charge_a_penalty_where_the_task_would_have_ended():
    plain = make.make_vec_env("Hopper-v5", num_envs=1, seed=0)
    fixed = make.make_vec_env("Hopper-v5", num_envs=1, seed=0, fixed_length=True, fall_penalty=10)
    plain.reset(seed=0)
    fixed.reset(seed=0)
    action = np.ones((1, 3), dtype=np.float32)  # full torque: the hopper falls within a second
    for _ in range(200):
        _, r_plain, term_plain, _, _ = plain.step(action)
        _, r_fixed, term_fixed, _, _ = fixed.step(action)
        assert not term_fixed[0]
        assert r_fixed[0] == pytest.approx(r_plain[0] - 10 * float(term_plain[0]))
        if term_plain[0]:
            break
    assert term_plain[0], "the hopper never fell: the test lost its point"
    _, r_after, term_after, _, _ = fixed.step(action)  # fallen for good: charged again
    assert not term_after[0] and r_after[0] < -5


@pytest.mark.parametrize("num_envs", [1, 2])  # one row (Welford's update) and a batch
def test_the_one_wrapper_normaliser_matches_gymnasiums_normalise_then_clip(num_envs):
    ours = make.make_vec_env(
        "Hopper-v5", num_envs=num_envs, seed=0, normalize_obs=True, clip_obs=0.5
    )
    theirs = gym.wrappers.vector.TransformObservation(
        gym.wrappers.vector.NormalizeObservation(gym.vector.SyncVectorEnv(
            [lambda: gym.make("Hopper-v5") for _ in range(num_envs)])),
        lambda o: np.clip(o, -0.5, 0.5), None,
    )  # fmt: skip
    a, _ = ours.reset(seed=3)
    b, _ = theirs.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        action = rng.uniform(-1, 1, (num_envs, 3)).astype(np.float32)
        a, *_ = ours.step(action)
        b, *_ = theirs.step(action)
    assert (np.abs(a) == 0.5).any()  # the clip was exercised
    np.testing.assert_allclose(
        make.get_obs_stats(ours)["var"], make.obs_normalizer(theirs).obs_rms.var, rtol=1e-6
    )


@pytest.mark.parametrize("shape, rows", [((11,), 1), ((11,), 3), ((), 1), ((), 4)])
def test_running_moments_match_gymnasiums(shape, rows):
    from gymnasium.wrappers.utils import RunningMeanStd

    ours, theirs = RunningMeanStd(shape=shape), RunningMeanStd(shape=shape)
    rng = np.random.default_rng(0)
    for _ in range(200):
        batch = rng.normal(3.0, 2.0, (rows, *shape))
        make.update_running_moments(ours, batch)
        theirs.update(batch)
    assert ours.count == theirs.count
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-12)
    np.testing.assert_allclose(ours.var, theirs.var, rtol=1e-12)
    np.testing.assert_allclose(ours.var, 4.0, rtol=0.2)  # and they are the data's moments


def test_training_envs_skip_step_info_and_hand_out_fresh_observations():
    # step_info=False (what training uses) drops the per-step info; the default keeps it.
    plain = make.make_vec_env("Hopper-v5", num_envs=1, seed=0)
    plain.reset(seed=0)
    assert "x_velocity" in plain.step(np.zeros((1, 3), dtype=np.float32))[4]
    lean = make.make_vec_env("Hopper-v5", num_envs=1, seed=0, normalize_obs=True, step_info=False)
    first, _ = lean.reset(seed=0)
    second, _, _, _, info = lean.step(np.zeros((1, 3), dtype=np.float32))
    assert info == {}
    # Behind the normaliser the vector env does not copy its buffer (copy=False): every
    # observation handed out must still be a new array, unchanged by later steps.
    for envs, obs in ((lean, second), (plain, plain.step(np.zeros((1, 3), np.float32))[0])):
        kept = obs.copy()
        envs.step(np.ones((1, 3), dtype=np.float32))
        np.testing.assert_array_equal(obs, kept)
    assert not np.shares_memory(first, second)
