"""REINFORCE on a 2-step MDP whose policy gradient is known exactly (by enumeration)."""

import itertools

import pytest
import torch
from torch import nn
from torch.distributions import Categorical

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.algos.reinforce import Reinforce, ReinforceConfig, episode_total_return

# States 0 (start), 1 and 2 (reached by action 0 / 1 from the start). Two actions everywhere.
# The episode ends after the second step. Rewards have a large constant part (+5), which is
# what makes a baseline matter.
REWARD = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.5, 0.5]], dtype=torch.float64) + 5.0


class Tabular(nn.Module):
    shared = False

    def __init__(self):
        super().__init__()
        self.theta = nn.Parameter(
            torch.tensor([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]], dtype=torch.float64)
        )
        self.v = nn.Parameter(torch.zeros(3, dtype=torch.float64))

    def distribution(self, batch):
        return Categorical(logits=self.theta[batch.obs])

    def value(self, batch):
        return self.v[batch.obs]

    def policy_parameters(self):
        return [self.theta]

    def value_parameters(self):
        return [self.v]


def exact_objective(theta):
    """J = sum over the 4 trajectories of p(tau) R(tau) (gamma = 1), differentiable in theta."""
    pi = theta.softmax(-1)
    J = 0.0
    for a0, a1 in itertools.product(range(2), range(2)):
        s1 = 1 + a0
        J = J + pi[0, a0] * pi[s1, a1] * (REWARD[0, a0] + REWARD[s1, a1])
    return J


def exact_values(theta):
    pi = theta.detach().softmax(-1)
    v1, v2 = (pi[1] * REWARD[1]).sum(), (pi[2] * REWARD[2]).sum()
    v0 = pi[0, 0] * (REWARD[0, 0] + v1) + pi[0, 1] * (REWARD[0, 1] + v2)
    return torch.stack([v0, v1, v2])


def sample(policy, n, seed):
    g = torch.Generator().manual_seed(seed)
    pi = policy.theta.detach().softmax(-1)
    a0 = torch.multinomial(pi[0].expand(n, 2), 1, generator=g).squeeze(1)
    s1 = 1 + a0
    a1 = torch.multinomial(pi[s1], 1, generator=g).squeeze(1)
    obs = torch.stack([torch.zeros_like(s1), s1])  # [T=2, N]
    actions = torch.stack([a0, a1])
    rewards = torch.stack([REWARD[0, a0], REWARD[s1, a1]])
    terminated = torch.tensor([[0.0], [1.0]], dtype=torch.float64).expand(2, n)
    return obs, actions, rewards, terminated


def per_episode_gradients(config, n=40_000, seed=0):
    """Each episode's REINFORCE gradient sample [n, 3, 2], and the batch the class would use."""
    policy = Tabular()
    obs, actions, rewards, terminated = sample(policy, n, seed)
    values = exact_values(policy.theta)[torch.cat([obs, obs[:1]])]  # V(s_t); V(s_T) unused
    algo = Reinforce(policy, config)
    weight, returns, known = algo.estimate(
        rewards, values, terminated, torch.zeros_like(terminated)
    )
    assert known.all()
    pi = policy.theta.detach().softmax(-1)
    grads = torch.zeros(n, 3, 2, dtype=torch.float64)
    for t in range(2):
        score = nn.functional.one_hot(actions[t], 2).double() - pi[obs[t]]  # grad log softmax
        grads[torch.arange(n), obs[t]] += score * weight[t].unsqueeze(1)
    batch = Batch(
        obs=obs.T.reshape(-1),
        actions=actions.T.reshape(-1),
        logp_old=torch.zeros(2 * n),
        advantages=weight.T.reshape(-1),
        returns=returns.T.reshape(-1),
        values_old=values[:2].T.reshape(-1),
        mask=torch.ones(2 * n, dtype=torch.float64),
    )
    return policy, algo, grads, batch


@pytest.mark.parametrize("return_type", ["total", "reward_to_go"])
@pytest.mark.parametrize("baseline", ["none", "constant", "value"])
def test_the_estimator_is_unbiased(return_type, baseline):
    config = ReinforceConfig(return_type=return_type, baseline=baseline, gamma=1.0)
    policy, _, grads, _ = per_episode_gradients(config)
    theta = policy.theta.detach().clone().requires_grad_()
    (true_grad,) = torch.autograd.grad(exact_objective(theta), theta)
    mean = grads.mean(0)
    stderr = grads.std(0) / grads.shape[0] ** 0.5
    # within 4 standard errors in every coordinate (a failure has probability < 1e-3)
    assert ((mean - true_grad).abs() <= 4 * stderr + 1e-9).all(), (mean, true_grad, stderr)


def test_the_value_baseline_cuts_variance():
    variance = {}
    for baseline in ("none", "constant", "value"):
        _, _, grads, _ = per_episode_gradients(ReinforceConfig(baseline=baseline, gamma=1.0))
        variance[baseline] = grads.var(0).sum().item()
    assert variance["value"] < 0.2 * variance["none"]
    assert variance["constant"] < variance["none"]


def test_the_update_follows_the_estimator():
    """The class's loss gradient is the mean per-episode gradient (scaled by 1 / T)."""
    config = ReinforceConfig(baseline="none", gamma=1.0, lr=1e-3)
    policy, algo, grads, batch = per_episode_gradients(config, n=500)
    dist = policy.distribution(batch)
    loss = -(dist.log_prob(batch.actions) * batch.advantages).mean()
    (g,) = torch.autograd.grad(loss, policy.theta)
    assert torch.allclose(-g * 2, grads.mean(0))
    before = policy.theta.detach().clone()
    algo.update(batch)
    step = policy.theta.detach() - before
    # Adam's first step moves each coordinate by ~lr in the direction of the ascent gradient
    assert (torch.sign(step) == torch.sign(grads.mean(0))).all()


def test_value_fitting_reduces_the_value_loss():
    config = ReinforceConfig(baseline="value", gamma=1.0, value_lr=0.05, value_iters=50)
    _, algo, _, batch = per_episode_gradients(config, n=2000)
    first = algo.update(batch)["value_loss"]
    second = algo.update(batch)["value_loss"]
    assert second < first


def test_total_return_is_broadcast_from_each_episode_start():
    rtg = torch.tensor([[3.0], [2.0], [5.0], [1.0]])
    term = torch.tensor([[0.0], [1.0], [0.0], [1.0]])
    total = episode_total_return(rtg, term, torch.zeros_like(term))
    assert total[:, 0].tolist() == [3.0, 3.0, 5.0, 5.0]


def test_leave_one_out_baseline_by_hand():
    from rlhf_from_scratch.algos.reinforce import leave_one_out_baseline

    returns = torch.tensor([[1.0, 3.0, 5.0, 10.0, 20.0]])
    groups = torch.tensor([0, 0, 0, 1, 1])  # three samples of prompt 0, two of prompt 1
    b = leave_one_out_baseline(returns, groups)
    assert b.tolist() == [[4.0, 3.0, 2.0, 20.0, 10.0]]


def test_leave_one_out_needs_groups():
    from rlhf_from_scratch.utils.errors import ConfigError

    algo = Reinforce(Tabular(), ReinforceConfig(baseline="leave_one_out"))
    r = torch.ones(2, 3)
    with pytest.raises(ConfigError, match="needs groups"):
        algo.estimate(r, torch.zeros(3, 3), torch.ones(2, 3), torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="at least 2"):
        algo.estimate(
            r,
            torch.zeros(3, 3),
            torch.ones(2, 3),
            torch.zeros(2, 3),
            groups=torch.tensor([0, 1, 1]),
        )
