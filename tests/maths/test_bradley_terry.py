"""Bradley-Terry: hand computations, invariances, and K-wise rankings as pairs."""

import math

import torch

from rlhf_from_scratch.maths.bradley_terry import (
    bradley_terry_loss,
    kwise_ranking_loss,
    preference_probability,
    ranking_to_pairs,
)


def test_probability_by_hand():
    r1, r2 = torch.tensor(1.0), torch.tensor(0.0)
    want = math.exp(1) / (math.exp(1) + math.exp(0))  # 0.7310585786
    assert math.isclose(preference_probability(r1, r2).item(), want, rel_tol=1e-6)
    assert math.isclose(preference_probability(r2, r1).item(), 1 - want, rel_tol=1e-6)
    assert preference_probability(r1, r1).item() == 0.5


def test_shift_invariance_and_scale_sensitivity():
    r1, r2 = torch.tensor([0.3, -1.2]), torch.tensor([1.0, 0.5])
    p = preference_probability(r1, r2)
    torch.testing.assert_close(preference_probability(r1 + 7.5, r2 + 7.5), p)
    scaled = preference_probability(3 * r1, 3 * r2)
    assert torch.all((scaled - 0.5).abs() > (p - 0.5).abs())  # sharper, not the same


def test_loss_by_hand_with_soft_labels_and_random_responses():
    r1, r2 = torch.tensor([2.0]), torch.tensor([0.5])
    s = 1 / (1 + math.exp(-1.5))
    assert math.isclose(bradley_terry_loss(r1, r2).item(), -math.log(s), rel_tol=1e-6)
    tie = -(0.5 * math.log(s) + 0.5 * math.log(1 - s))
    assert math.isclose(bradley_terry_loss(r1, r2, 0.5).item(), tie, rel_tol=1e-6)
    p = 0.05 + 0.9 * s  # eps = 0.1
    want = -(0.7 * math.log(p) + 0.3 * math.log(1 - p))
    assert math.isclose(bradley_terry_loss(r1, r2, 0.7, eps=0.1).item(), want, rel_tol=1e-6)
    # With eps, one confidently wrong label costs at most -log(eps / 2).
    huge = bradley_terry_loss(torch.tensor([100.0]), torch.tensor([0.0]), 0.0, eps=0.1)
    assert math.isclose(huge.item(), -math.log(0.05), rel_tol=1e-4)


def test_gradient_pushes_the_preferred_reward_up():
    r = torch.tensor([0.0, 0.0], requires_grad=True)
    bradley_terry_loss(r[:1], r[1:], 1.0).backward()
    assert r.grad[0] < 0 < r.grad[1]  # gradient descent raises r1 and lowers r2


def test_ranking_gives_k_choose_2_pairs():
    assert ranking_to_pairs([2, 0, 1]) == [(2, 0), (2, 1), (0, 1)]
    assert len(ranking_to_pairs(list(range(6)))) == 15


def test_kwise_loss_is_the_mean_of_the_pairwise_losses():
    torch.manual_seed(0)
    rewards = torch.randn(3, 4)
    ranks = torch.stack([torch.randperm(4) for _ in range(3)])
    pairwise = []
    for b in range(3):
        ranking = ranks[b].argsort().tolist()  # response indices, best first
        for w, l in ranking_to_pairs(ranking):
            pairwise.append(bradley_terry_loss(rewards[b, w : w + 1], rewards[b, l : l + 1]))
    got = kwise_ranking_loss(rewards, ranks)
    torch.testing.assert_close(got, torch.stack(pairwise).mean())
    # Columns already in order (best first) is the default.
    ordered = torch.gather(rewards, 1, ranks.argsort(1))
    torch.testing.assert_close(kwise_ranking_loss(ordered), got)


def test_tied_ranks_are_half_labels():
    rewards = torch.tensor([[1.0, 0.0]])
    tie = kwise_ranking_loss(rewards, torch.tensor([[0, 0]]))
    torch.testing.assert_close(tie, bradley_terry_loss(rewards[:, 0], rewards[:, 1], 0.5))
