import torch

from rlhf_from_scratch.maths.returns import discounted_return, gae, reward_to_go


def col(*xs):
    """A [T, 1] column: one env over T steps."""
    return torch.tensor(xs, dtype=torch.float64).unsqueeze(1)


def test_discounted_return_by_hand():
    r = col(1.0, 2.0, 3.0)
    assert discounted_return(r, 0.5).item() == 1 + 0.5 * 2 + 0.25 * 3
    assert discounted_return(r, 1.0).item() == 6.0


def test_reward_to_go_by_hand_with_termination():
    # episode 1: steps 0-1 (terminates at 1), episode 2: steps 2-3 (still running)
    r = col(1.0, 2.0, 3.0, 4.0)
    term = col(0, 1, 0, 0)
    trunc = col(0, 0, 0, 0)
    g, known = reward_to_go(r, term, trunc, gamma=0.5)
    assert torch.allclose(g[:2, 0], torch.tensor([1 + 0.5 * 2, 2.0], dtype=torch.float64))
    # the unfinished episode has no known return without a value function
    assert known[:, 0].tolist() == [1, 1, 0, 0]


def test_reward_to_go_bootstraps_truncation_and_the_rollout_end():
    r = col(1.0, 1.0, 1.0)
    term = col(0, 0, 0)
    trunc = col(0, 1, 0)  # a time limit cut the episode after step 1
    values = col(0.0, 0.0, 10.0, 5.0)  # values[2] = V(final obs of episode 1), values[3] = V(s_T)
    g, known = reward_to_go(r, term, trunc, gamma=0.9, values=values)
    assert torch.allclose(
        g[:, 0],
        torch.tensor([1 + 0.9 * (1 + 0.9 * 10), 1 + 0.9 * 10, 1 + 0.9 * 5], dtype=torch.float64),
    )
    assert known.all()


def test_gae_lambda_one_is_reward_to_go_minus_value():
    torch.manual_seed(0)
    T, N = 12, 3
    r = torch.randn(T, N, dtype=torch.float64)
    values = torch.randn(T + 1, N, dtype=torch.float64)
    term = (torch.rand(T, N) < 0.15).double()
    trunc = (torch.rand(T, N) < 0.1).double() * (1 - term)
    adv, ret = gae(r, values, term, trunc, gamma=0.97, lam=1.0)
    g, _ = reward_to_go(r, term, trunc, 0.97, values=values)
    assert torch.allclose(adv, g - values[:T])
    assert torch.allclose(ret, g)


def test_gae_lambda_zero_is_the_td_error():
    torch.manual_seed(1)
    T, N = 10, 2
    r = torch.randn(T, N, dtype=torch.float64)
    values = torch.randn(T + 1, N, dtype=torch.float64)
    term = (torch.rand(T, N) < 0.2).double()
    trunc = torch.zeros(T, N, dtype=torch.float64)
    adv, _ = gae(r, values, term, trunc, gamma=0.9, lam=0.0)
    td = r + 0.9 * (1 - term) * values[1:] - values[:T]
    assert torch.allclose(adv, td)


def test_truncation_bootstraps_and_termination_does_not():
    r = col(1.0)
    values = col(0.0, 7.0)  # V(s_0) = 0, V(s_1) = 7
    zero, one = col(0), col(1)
    adv_trunc, _ = gae(r, values, terminated=zero, truncated=one, gamma=0.5, lam=0.95)
    adv_term, _ = gae(r, values, terminated=one, truncated=zero, gamma=0.5, lam=0.95)
    assert adv_trunc.item() == 1 + 0.5 * 7
    assert adv_term.item() == 1.0


def test_gae_does_not_leak_across_episode_boundaries():
    # Two episodes in one column: the second's rewards must not change the first's advantages.
    values = col(0.0, 0.0, 0.0, 0.0, 0.0)
    term = col(0, 1, 0, 0)
    trunc = col(0, 0, 0, 0)
    a1, _ = gae(col(1.0, 1.0, 0.0, 0.0), values, term, trunc, 0.99, 0.95)
    a2, _ = gae(col(1.0, 1.0, 100.0, -50.0), values, term, trunc, 0.99, 0.95)
    assert torch.equal(a1[:2], a2[:2])
