"""lm/rollout.py and lm/policy.py: reward assembly, the KL penalty, episode ends and masks on
hand-made tensors; padding changes no loss; the first PPO minibatch has ratio 1."""

from dataclasses import replace

import pytest
import torch
from rlhf_helpers import TOK, count_a, tiny_policy

from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.lm.rlhf import algo_config
from rlhf_from_scratch.lm.rollout import (
    episode_ends,
    kl_per_token,
    last_index,
    rollout,
    token_rewards,
)

MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
LOGP = torch.tensor([[-1.0, -2.0, -0.5, -9.0], [-0.1, -7.0, -7.0, -7.0]])
LOGP_REF = torch.tensor([[-1.5, -1.0, -0.5, -1.0], [-0.4, -1.0, -1.0, -1.0]])


def test_kl_penalty_is_the_log_ratio_on_real_tokens():
    kl = kl_per_token(LOGP, LOGP_REF, MASK)
    assert torch.allclose(kl, torch.tensor([[0.5, -1.0, 0.0, 0.0], [0.3, 0.0, 0.0, 0.0]]))
    assert torch.allclose(kl.sum(1), torch.tensor([-0.5, 0.3]))


def test_reward_is_minus_beta_kl_plus_the_score_on_the_last_token():
    r = token_rewards(torch.tensor([2.0, -1.0]), LOGP, LOGP_REF, MASK, beta=0.1)
    expected = torch.tensor([[-0.05, 0.1, 0.0 + 2.0, 0.0], [-0.03 - 1.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(r, expected)
    # beta = 0: only the reward model's score, on the final token
    r0 = token_rewards(torch.tensor([2.0, -1.0]), LOGP, LOGP_REF, MASK, beta=0.0)
    assert torch.equal(r0, torch.tensor([[0.0, 0.0, 2.0, 0.0], [-1.0, 0.0, 0.0, 0.0]]))


def test_episodes_end_at_the_last_real_token_and_stay_ended_on_padding():
    assert last_index(MASK).tolist() == [2, 0]
    assert episode_ends(MASK).tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]


def make_rollout(algo_name="ppo", **algo_overrides):
    policy, reference = tiny_policy()
    algo_class, cfg = algo_config(algo_name, None)
    algo = algo_class(policy, replace(cfg, **algo_overrides), 10)
    generator = torch.Generator().manual_seed(0)
    ro = rollout(
        policy, reference, count_a, TOK, ["ab", "a longer prompt"], 3, 0.1, algo.estimate, 8,
        None, generator,
    )  # fmt: skip
    return policy, reference, algo, ro


def test_rollout_fills_a_batch_the_algorithms_can_read():
    policy, _, algo, ro = make_rollout()
    b = ro.batch
    B, T = b.actions.shape
    assert B == 6 and T <= 8 and b.obs["tokens"].shape[0] == 6
    for field in (b.logp_old, b.advantages, b.returns, b.values_old, b.mask):
        assert field.shape == (B, T)
    assert ro.groups.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.all(b.mask == b.obs["attention_mask"][:, -T:].float())
    # the values of the zero-initialised critic are 0: the returns are the rewards-to-go
    assert torch.all(b.values_old == 0)
    # the sampling temperature is the one of the log-probs (pi = softmax(logits / 0.7))
    assert torch.all(b.logp_old <= 0)


def test_first_ppo_minibatch_has_ratio_one():
    policy, _, algo, ro = make_rollout()
    mb = next(ro.batch.minibatches(2, torch.Generator().manual_seed(0)))
    log_ratio = policy.distribution(mb).log_prob(mb.actions) - mb.logp_old
    assert torch.allclose(log_ratio * mb.mask, torch.zeros_like(log_ratio), atol=1e-5)
    _, stats = algo.loss(mb)
    assert stats["ratio_mean"].item() == pytest.approx(1.0, abs=1e-5)
    assert stats["clipfrac"].item() == 0.0


def pad_right(batch: Batch, k: int, pad_id: int) -> Batch:
    """The same batch with k more response positions of padding carrying junk values (finite:
    a masked mean multiplies by 0, and inf * 0 is nan; the rollout writes 0 there)."""
    B = len(batch)
    junk = torch.randn(B, k, generator=torch.Generator().manual_seed(3)) * 3

    def more(x, value):
        return torch.cat([x, value], 1)

    obs = {
        "tokens": more(batch.obs["tokens"], torch.full((B, k), pad_id)),
        "attention_mask": more(batch.obs["attention_mask"], torch.zeros(B, k, dtype=torch.long)),
    }
    return Batch(
        obs,
        more(batch.actions, torch.full((B, k), pad_id)),
        more(batch.logp_old, -junk.abs()),
        more(batch.advantages, junk),
        more(batch.returns, junk),
        more(batch.values_old, junk),
        more(batch.mask, torch.zeros(B, k)),
    )


def test_padding_changes_no_loss():
    _, _, algo, ro = make_rollout()
    loss, stats = algo.loss(ro.batch)
    padded_loss, padded_stats = algo.loss(pad_right(ro.batch, 5, TOK.pad_id))
    assert padded_loss.item() == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl"):
        assert padded_stats[key].item() == pytest.approx(stats[key].item(), rel=1e-5, abs=1e-6)


def test_a_response_scores_the_same_with_more_left_padding():
    policy, reference, _, ro = make_rollout()
    b = ro.batch[torch.tensor([0])]
    k = 4
    left = {
        "tokens": torch.cat([torch.full((1, k), TOK.pad_id), b.obs["tokens"]], 1),
        "attention_mask": torch.cat([torch.zeros(1, k, dtype=torch.long), b.obs["attention_mask"]], 1),
    }  # fmt: skip
    shifted = Batch(left, *(getattr(b, f) for f in ("actions", "logp_old", "advantages",
                                                    "returns", "values_old", "mask")))  # fmt: skip
    lp = policy.distribution(b).log_prob(b.actions) * b.mask
    lp_left = policy.distribution(shifted).log_prob(b.actions) * b.mask
    assert torch.allclose(lp, lp_left, atol=1e-5)
