import gymnasium as gym
import numpy as np
import torch

from rlhf_from_scratch.envs import make
from rlhf_from_scratch.envs.policies import ActorCritic
from rlhf_from_scratch.envs.rollout import Collector, EpisodeTracker, Identity, ReturnScaler


def collector(env_id="CartPole-v1", n_steps=200, num_envs=2, transform=None):
    envs = make.make_vec_env(env_id, num_envs=num_envs, seed=0)
    torch.manual_seed(0)
    policy = ActorCritic(envs.single_observation_space, envs.single_action_space)
    return Collector(envs, policy, n_steps, transform or Identity(), seed=0)


def test_autoreset_steps_are_masked_and_carry_no_reward():
    roll = collector().collect()
    done = torch.maximum(roll.terminated, roll.truncated)
    assert done.sum() > 0  # a random CartPole policy ends episodes within 200 steps
    # the step right after every episode end is the env's reset step
    after = torch.zeros_like(done)
    after[1:] = done[:-1]
    assert torch.equal(roll.mask, 1 - after)
    assert torch.all(roll.rewards[after > 0] == 0)


def test_episode_returns_are_the_sum_of_true_rewards():
    roll = collector(transform=ReturnScaler(2, gamma=0.99)).collect()
    assert roll.episodes
    # learner rewards are scaled, true rewards are CartPole's +1 per real step
    assert not torch.allclose(roll.rewards, roll.true_rewards * roll.mask)
    lengths = [n for _, n in roll.episodes]
    assert [r for r, _ in roll.episodes] == [float(n) for n in lengths]


def test_value_after_an_episode_end_is_the_value_of_the_final_observation():
    c = collector(n_steps=100, num_envs=1)
    roll = c.collect()
    t = int(torch.nonzero(torch.maximum(roll.terminated, roll.truncated)[:, 0])[0])
    # obs[t + 1] is the final observation the env returned; values[t + 1] = V(it)
    final_obs = roll.obs[t + 1, 0]
    with torch.no_grad():
        assert torch.allclose(roll.values[t + 1, 0], c.policy.value_obs(final_obs[None])[0])


def test_batch_flattens_time_and_envs():
    c = collector(n_steps=16, num_envs=3)
    roll = c.collect()
    adv = torch.randn(16, 3)
    batch = roll.to_batch(adv, adv, torch.ones(16, 3))
    assert len(batch) == 48
    assert torch.equal(batch.advantages.view(16, 3), adv)
    assert torch.equal(batch.mask.view(16, 3), roll.mask)


def test_atari_games_end_only_when_no_lives_are_left():
    tracker = EpisodeTracker(2)
    real = np.array([True, True])
    out = tracker.step(
        np.array([1.0, 2.0]),
        np.array([True, True]),
        np.array([False, False]),
        {"lives": np.array([2, 0])},
        real,
    )
    assert out == [(2.0, 1)]  # env 0 only lost a life; env 1's game is over
    out = tracker.step(
        np.array([1.0, 0.0]),
        np.array([True, False]),
        np.array([False, False]),
        {"lives": np.array([0, 3])},
        real,
    )
    assert out == [(2.0, 2)]


def test_the_numpy_actor_samples_the_torch_policys_gaussian():
    obs_space = gym.spaces.Box(-1, 1, (5,))
    act_space = gym.spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
    for activation in ("tanh", "relu"):
        torch.manual_seed(0)
        policy = ActorCritic(obs_space, act_space, hidden=(16, 8), activation=activation)
        with torch.no_grad():
            policy.actor_head.weight.normal_()  # a mean far from 0 (the init's gain is 0.01)
            policy.log_std.fill_(-1.0)
        obs = np.random.default_rng(0).normal(size=(4, 5))
        sample = policy.sampler(n_steps=2, num_envs=4)
        mean = policy.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)
        # a = mu(s) + sigma z: the mean is the torch policy's, the noise is sigma * N(0, I)
        assert np.allclose(sample(0, obs) - sample.noise[0], mean.numpy(), atol=1e-5)
        torch.manual_seed(1)
        z = torch.randn(2, 4, 3).numpy()
        torch.manual_seed(1)  # the noise comes from torch's generator (seeded, checkpointed)
        assert np.allclose(policy.sampler(2, 4).noise, z * np.exp(-1.0), atol=1e-6)


def test_the_numpy_actor_samples_the_torch_policys_categorical():
    torch.manual_seed(0)
    policy = ActorCritic(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(3))
    with torch.no_grad():
        policy.actor_head.weight.normal_()
    obs = np.random.default_rng(0).normal(size=(1, 4))
    probs = torch.softmax(policy.actor_head(policy.actor_trunk(torch.tensor(obs).float())), -1)
    n = 20_000
    sample = policy.sampler(n_steps=n, num_envs=1)
    counts = np.bincount([int(sample(t, obs)[0]) for t in range(n)], minlength=3)
    # the Gumbel-max trick draws a = k with probability softmax(logits)_k (3 std: ~0.011)
    assert np.abs(counts / n - probs[0].detach().numpy()).max() < 0.011
    assert probs.min() < 0.25 and probs.max() > 0.4  # far from uniform, so the test can fail


def test_the_torch_sampler_takes_float64_observations_and_frames():
    policy = ActorCritic(gym.spaces.Box(-1, 1, (5,)), gym.spaces.Box(-1, 1, (2,)))
    obs = np.random.default_rng(0).normal(size=(3, 5))  # float64, as an unnormalised MuJoCo env
    assert policy.torch_sampler(0, obs).shape == (3, 2)
    frames = gym.spaces.Box(0, 255, (4, 84, 84), dtype=np.uint8)
    cnn = ActorCritic(frames, gym.spaces.Discrete(6))
    assert cnn.sampler(8, 2) == cnn.torch_sampler  # CNNs sample with torch
    action = cnn.torch_sampler(0, np.zeros((2, 4, 84, 84), dtype=np.uint8))
    assert action.shape == (2,) and action.dtype == np.int64


def test_a_block_scaled_after_the_rollout_equals_the_collector_scaling_each_step():
    """r_hat is scored once the rollout is in: scale_rollout must give what the collector gives,
    block after block (the running statistics and discounted sums carry over)."""
    during, after = ReturnScaler(2, gamma=0.99), ReturnScaler(2, gamma=0.99)
    c = collector(n_steps=50, transform=during)
    for _ in range(3):
        roll = c.collect()
        done = torch.maximum(roll.terminated, roll.truncated).numpy()
        scaled = after.scale_rollout(roll.true_rewards.numpy(), done, roll.mask.numpy())
        np.testing.assert_allclose(scaled, roll.rewards.numpy(), rtol=1e-6)
    assert done.any() and not np.allclose(scaled, roll.true_rewards.numpy())
    for key in ("mean", "var", "count", "discounted"):
        np.testing.assert_allclose(after.state_dict()[key], during.state_dict()[key])
