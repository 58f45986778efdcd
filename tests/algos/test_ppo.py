import warnings

import pytest
import torch

from rlhf_from_scratch.algos.ppo import PPO, PPOConfig
from rlhf_from_scratch.utils.errors import ConfigError


def test_first_minibatch_has_ratio_one_and_no_clipping(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=128)
    algo = PPO(policy, PPOConfig(n_minibatches=4, n_epochs=1))
    mb = next(batch.minibatches(4, torch.Generator().manual_seed(0)))
    _, stats = algo.loss(mb)
    dist = policy.distribution(mb)
    ratio = (dist.log_prob(mb.actions) - mb.logp_old).exp()
    assert torch.equal(ratio, torch.ones_like(ratio))
    assert stats["clipfrac"].item() == 0.0
    assert stats["approx_kl"].item() == 0.0


def test_clipping_on_hand_made_ratios(tiny):
    """L^CLIP = min(r A, clip(r) A): positive A caps r at 1+eps, negative A at 1-eps."""
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=4)
    logp = policy.distribution(batch).log_prob(batch.actions).detach()
    ratios = torch.tensor([1.5, 0.5, 1.5, 0.5], dtype=torch.float64)
    batch.logp_old = logp - ratios.log()  # so that pi / pi_old = ratios exactly
    batch.advantages = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    algo = PPO(policy, PPOConfig(clip=0.2, normalize_advantages=False, vf_coef=0.0))
    _, stats = algo.loss(batch)
    # min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5; min(-1.5, -1.2) = -1.5; min(-0.5, -0.8) = -0.8
    expected = -torch.tensor([1.2, 0.5, -1.5, -0.8]).mean()
    assert stats["policy_loss"].item() == pytest.approx(expected.item())
    assert stats["clipfrac"].item() == 1.0


def test_gradient_vanishes_where_the_ratio_is_clipped(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=1)
    logp = policy.distribution(batch).log_prob(batch.actions).detach()
    batch.logp_old = logp - torch.tensor([1.5], dtype=torch.float64).log()
    batch.advantages = torch.tensor([1.0], dtype=torch.float64)
    algo = PPO(policy, PPOConfig(normalize_advantages=False, vf_coef=0.0))
    loss, _ = algo.loss(batch)
    loss.backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in policy.policy_parameters())


def test_an_update_improves_the_surrogate_and_logs_the_usual_metrics(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=256)
    algo = PPO(policy, PPOConfig(n_epochs=4, n_minibatches=4, lr=1e-2, anneal_lr=False))
    metrics = algo.update(batch)
    dist = policy.distribution(batch)
    ratio = (dist.log_prob(batch.actions) - batch.logp_old).exp()
    adv = (batch.advantages - batch.advantages.mean()) / batch.advantages.std()
    assert (ratio * adv).mean() > 0  # the unclipped surrogate went up from its value 0
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "lr"):
        assert key in metrics


def test_target_kl_stops_the_epochs_early(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=256)
    algo = PPO(policy, PPOConfig(n_epochs=50, n_minibatches=2, lr=5e-2, target_kl=1e-4))
    metrics = algo.update(batch)
    assert metrics["stopped_early"] == 1.0
    assert metrics["epochs_run"] < 50


def test_kl_penalty_variant_adapts_beta(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=256)
    algo = PPO(
        policy, PPOConfig(variant="kl", kl_beta=1.0, kl_target=1e-6, lr=1e-2, n_minibatches=2)
    )
    metrics = algo.update(batch)
    assert metrics["kl_beta"] == 2.0  # KL far above 1.5 x target: beta doubles
    algo2 = PPO(TinyPolicy(), PPOConfig(variant="kl", kl_beta=1.0, kl_target=10.0, lr=1e-4))
    assert algo2.update(make_batch(policy, n=64))["kl_beta"] == 0.5


def test_lr_is_annealed_linearly_to_zero(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    algo = PPO(policy, PPOConfig(lr=1e-3, n_epochs=1, n_minibatches=1), total_updates=4)
    lrs = [algo.update(make_batch(policy, n=8))["lr"] for _ in range(4)]
    assert lrs == pytest.approx([1e-3, 7.5e-4, 5e-4, 2.5e-4])


def test_the_entropy_bonus_can_be_annealed_linearly_to_zero(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    config = PPOConfig(ent_coef=0.01, anneal_ent_coef=True, n_epochs=1, n_minibatches=1)
    algo = PPO(policy, config, total_updates=4)
    coefs = [algo.update(make_batch(policy, n=8))["ent_coef"] for _ in range(4)]
    assert coefs == pytest.approx([0.01, 0.0075, 0.005, 0.0025])
    # The loss uses the coefficient of the current update: L = L(c2 = 0) - c2 H.
    mb = make_batch(policy, n=8)
    loss, stats = algo.loss(mb)
    without, _ = PPO(policy, PPOConfig(ent_coef=0.0)).loss(mb)
    assert loss.item() == pytest.approx(without.item() - 0.0025 * stats["entropy"].item())
    constant = PPO(policy, PPOConfig(ent_coef=0.01, n_epochs=1, n_minibatches=1), total_updates=4)
    assert "ent_coef" not in constant.update(make_batch(policy, n=8))
    assert constant.ent_coef.item() == pytest.approx(0.01)


@pytest.mark.parametrize(
    "bad", [dict(lr=0.0), dict(clip=0.0), dict(gamma=1.5), dict(lam=-0.1), dict(variant="trust")]
)
def test_nonsense_hyperparameters_are_refused(tiny, bad):
    TinyPolicy, _ = tiny
    with pytest.raises(ConfigError):
        PPO(TinyPolicy(), PPOConfig(**bad))


def test_padding_changes_no_loss(tiny):
    """Extra positions with mask 0 (and garbage values) leave every loss unchanged."""
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy, n=16)
    padded = make_batch(policy, n=24, seed=5)
    for name in ("obs", "actions", "logp_old", "advantages", "returns", "values_old"):
        getattr(padded, name)[:16] = getattr(batch, name)
    padded.mask = torch.cat([torch.ones(16), torch.zeros(8)]).double()
    padded.advantages[16:] = 1e6
    algo = PPO(policy, PPOConfig())
    loss, _ = algo.loss(batch)
    loss_padded, _ = algo.loss(padded)
    assert loss.item() == pytest.approx(loss_padded.item())


def test_an_extra_loss_term_is_added_to_every_minibatch(tiny):
    """PPO-ptx's pretraining term enters through extra_loss: PPO does not know what it is."""
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    calls = []

    def extra():
        calls.append(1)
        return 0.0 * sum(p.sum() for p in policy.policy_parameters()) + 0.25

    algo = PPO(policy, PPOConfig(n_epochs=2, n_minibatches=3), extra_loss=extra)
    metrics = algo.update(make_batch(policy, n=30))
    assert len(calls) == 6 and metrics["extra_loss"] == pytest.approx(0.25)


def test_the_compiled_loss_is_the_eager_loss():
    import gymnasium as gym

    from rlhf_from_scratch.algos.batch import Batch
    from rlhf_from_scratch.envs.policies import ActorCritic

    torch.manual_seed(0)
    obs_space = gym.spaces.Box(-1, 1, (11,))
    policy = ActorCritic(obs_space, gym.spaces.Box(-1, 1, (3,)))
    n = 64
    obs, actions = torch.randn(n, 11), torch.randn(n, 3)
    with torch.no_grad():
        logp = policy.dist(obs).log_prob(actions) + 0.3 * torch.randn(n)  # ratios away from 1
    mb = Batch(obs, actions, logp, torch.randn(n), torch.randn(n), torch.randn(n), torch.ones(n))
    eager = PPO(policy, PPOConfig())
    fast = PPO(policy, PPOConfig(compile=True))
    grads = []
    for algo in (eager, fast):
        loss, stats = algo.compiled_loss(mb)
        policy.zero_grad()
        loss.backward()
        grads.append([p.grad.clone() for p in algo.parameters])
        assert 0 < stats["clipfrac"] < 1
    assert fast.compiled_loss is not fast.loss
    assert torch.allclose(eager.loss(mb)[0], fast.compiled_loss(mb)[0], atol=1e-6)
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    # An annealed entropy coefficient is an input of the compiled loss: a new value is used
    # at once, without recompiling (a recompile is refused here, and would surface as the
    # fallback's warning, turned into an error).
    eager.ent_coef.fill_(0.01)
    fast.ent_coef.fill_(0.01)
    with warnings.catch_warnings(), torch._dynamo.config.patch(error_on_recompile=True):
        warnings.simplefilter("error")
        assert torch.allclose(eager.loss(mb)[0], fast.compiled_loss(mb)[0], atol=1e-6)


def test_a_loss_that_cannot_be_compiled_runs_eagerly(monkeypatch):
    from rlhf_from_scratch.algos.common import compiled

    def broken(fn, **options):
        def fail(*args):
            raise RuntimeError("no C++ compiler")

        return fail

    monkeypatch.setattr(torch, "compile", broken)
    double = compiled(lambda x: 2 * x)
    with pytest.warns(UserWarning, match="no C.. compiler"):
        assert double(torch.tensor(3.0)) == 6.0
    assert double(torch.tensor(4.0)) == 8.0  # eager from now on, without another warning
    with pytest.raises(ZeroDivisionError):  # a real error in the function still surfaces
        compiled(lambda x: 1 / 0)(1)


def test_clip_grad_norm_is_torchs():
    from rlhf_from_scratch.algos.common import clip_grad_norm

    for max_norm in (0.5, 100.0):  # clipped, and left alone
        torch.manual_seed(0)
        ours = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(5))]
        theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        norm = clip_grad_norm(ours, max_norm)
        assert torch.allclose(norm, torch.nn.utils.clip_grad_norm_(theirs, max_norm))
        for a, b in zip(ours, theirs, strict=True):
            assert torch.allclose(a.grad, b.grad)
        total = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours]))
        assert total.item() == pytest.approx(min(max_norm, norm.item()), rel=1e-4)
