"""algos/q_actor_critic.py: the actor step is alpha grad log pi(a|s) Q(s, a), the critic's target
is Q-learning's, and on a small chain the pair learns the optimal policy and Q*."""

import pytest
import torch
from torch import nn

from rlhf_from_scratch.algos.q_actor_critic import QActorCritic, QActorCriticConfig
from rlhf_from_scratch.utils.errors import ConfigError

N = 5  # chain states 0..4; 4 is the goal


def one_hot(s: int) -> torch.Tensor:
    return torch.eye(N)[s]


def linear(out: int) -> nn.Linear:
    layer = nn.Linear(N, out, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


def test_the_actor_moves_by_alpha_grad_log_pi_times_q():
    agent = QActorCritic(linear(2), linear(2), QActorCriticConfig(actor_lr=0.5, critic_lr=0.1))
    with torch.no_grad():
        agent.critic.weight[1, 2] = 3.0  # Q(s=2, a=1) = 3
        agent.actor.weight[0, 2] = 0.4  # pi(.|s=2) not uniform
    before = agent.actor.weight.detach().clone()
    probs = torch.softmax(before @ one_hot(2), -1)
    agent.update(one_hot(2), action=1, reward=0.0, next_obs=one_hot(3), terminated=False)
    # grad_W log pi(a|s) = (e_a - pi) x^T for a linear-softmax policy
    expected = before + 0.5 * 3.0 * torch.outer(torch.tensor([0.0, 1.0]) - probs, one_hot(2))
    assert torch.allclose(agent.actor.weight, expected, atol=1e-6)


def test_the_critic_target_is_q_learnings_and_a_termination_is_not_bootstrapped():
    agent = QActorCritic(linear(2), linear(2), QActorCriticConfig(gamma=0.9))
    with torch.no_grad():
        agent.critic.weight[:, 3] = torch.tensor([1.0, 2.0])  # max_a Q(s=3, a) = 2
    out = agent.update(one_hot(2), 1, reward=0.5, next_obs=one_hot(3), terminated=False)
    assert out["target"] == pytest.approx(0.5 + 0.9 * 2.0)
    out = agent.update(one_hot(2), 1, reward=0.5, next_obs=one_hot(3), terminated=True)
    assert out["target"] == pytest.approx(0.5)


def test_learns_the_chain_and_its_q_star():
    torch.manual_seed(0)
    gamma = 0.9
    agent = QActorCritic(linear(2), linear(2), QActorCriticConfig(0.2, 0.3, gamma))
    generator = torch.Generator().manual_seed(0)
    s, t = 0, 0
    for _ in range(4000):
        a = agent.act(one_hot(s), generator)
        s2 = min(s + 1, N - 1) if a == 1 else max(s - 1, 0)
        done = s2 == N - 1
        agent.update(one_hot(s), a, float(done), one_hot(s2), terminated=done)
        s, t = (0, 0) if done or t + 1 == 20 else (s2, t + 1)  # a 20-step time limit
    with torch.no_grad():
        for s in range(N - 1):
            assert torch.softmax(agent.actor(one_hot(s)), -1)[1] > 0.9  # right, everywhere
            q_star = gamma ** (N - 2 - s)  # the reward of 1 is N - 1 - s steps away
            assert agent.critic(one_hot(s))[1].item() == pytest.approx(q_star, abs=0.1)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="actor_lr"):
        QActorCritic(linear(2), linear(2), QActorCriticConfig(actor_lr=0.0))
    with pytest.raises(ConfigError, match="gamma"):
        QActorCritic(linear(2), linear(2), QActorCriticConfig(gamma=1.5))
