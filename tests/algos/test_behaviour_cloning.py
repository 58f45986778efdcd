import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhf_from_scratch.algos.behaviour_cloning import (
    BCConfig,
    BehaviourCloning,
    demonstration_batch,
)
from rlhf_from_scratch.envs import make
from rlhf_from_scratch.envs.policies import ActorCritic
from rlhf_from_scratch.envs.rollout import evaluate, run_episodes
from rlhf_from_scratch.utils.errors import ConfigError


def cartpole_expert(obs: np.ndarray) -> np.ndarray:
    """Push toward where the pole falls: 500 of 500 on every seed tried."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def test_bc_recovers_a_linear_expert_from_its_actions():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, generator=g)
    obs = torch.randn(2000, 4, generator=g)
    torch.manual_seed(0)
    policy = ActorCritic(gym.spaces.Box(-5, 5, (4,)), gym.spaces.Discrete(3))
    bc = BehaviourCloning(policy, BCConfig(epochs=30, n_minibatches=8, lr=3e-3))
    first = bc.loss(demonstration_batch(obs, (obs @ w).argmax(-1))).item()
    metrics = bc.update(demonstration_batch(obs, (obs @ w).argmax(-1)), g)
    assert metrics["bc_loss"] < 0.3 * first  # log 3 = 1.10 at the start
    fresh = torch.randn(1000, 4, generator=g)
    agree = (policy.act(fresh, deterministic=True) == (fresh @ w).argmax(-1)).float().mean()
    assert agree > 0.95


def test_bc_balances_cartpole_from_two_expert_episodes():
    envs = make.make_vec_env("CartPole-v1", 1, seed=0)
    episodes, obs, actions = run_episodes(cartpole_expert, envs, 2, seed=0, record=True)
    assert [r for r, _ in episodes] == [500.0, 500.0]
    assert len(obs) == len(actions) == 1000  # every real step, no autoreset step
    torch.manual_seed(0)
    policy = ActorCritic(envs.single_observation_space, envs.single_action_space)
    before = evaluate(policy, envs, 3, seed=1)
    bc = BehaviourCloning(policy, BCConfig())
    bc.update(demonstration_batch(torch.as_tensor(obs), torch.as_tensor(actions)))
    after = evaluate(policy, envs, 3, seed=1)
    assert max(r for r, _ in before) < 100
    assert min(r for r, _ in after) >= 450, after


@pytest.mark.parametrize("bad", [dict(lr=0.0), dict(epochs=0), dict(n_minibatches=-1)])
def test_nonsense_settings_are_refused(bad):
    policy = ActorCritic(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(2))
    with pytest.raises(ConfigError):
        BehaviourCloning(policy, BCConfig(**bad))
