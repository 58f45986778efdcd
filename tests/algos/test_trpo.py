import torch
from torch import nn
from torch.distributions import Categorical, kl_divergence

from rlhf_from_scratch.algos.batch import masked_mean
from rlhf_from_scratch.algos.trpo import (
    TRPO,
    TRPOConfig,
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
)


def test_conjugate_gradient_solves_a_random_spd_system():
    torch.manual_seed(0)
    M = torch.randn(20, 20, dtype=torch.float64)
    A = M @ M.T + 20 * torch.eye(20, dtype=torch.float64)
    b = torch.randn(20, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, iters=50, tol=1e-24)
    assert torch.allclose(x, torch.linalg.solve(A, b), atol=1e-8)


def test_fisher_vector_product_equals_the_autograd_hessian_of_the_mean_kl(tiny):
    TinyPolicy, make_batch = tiny
    policy = TinyPolicy()
    batch = make_batch(policy)
    params = policy.policy_parameters()
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    theta0 = torch.cat([p.detach().reshape(-1) for p in params])
    with torch.no_grad():
        old = Categorical(logits=policy.pi(batch.obs))

    def mean_kl_of(theta):
        # rebuild the network's forward from a flat parameter vector
        chunks = [c.view(s) for c, s in zip(theta.split(sizes), shapes)]
        w1, b1, w2, b2 = chunks
        logits = torch.tanh(batch.obs @ w1.T + b1) @ w2.T + b2
        return kl_divergence(old, Categorical(logits=logits)).mean()

    H = torch.autograd.functional.hessian(mean_kl_of, theta0)
    v = torch.randn(theta0.numel(), dtype=torch.float64)

    def mean_kl():
        return masked_mean(kl_divergence(old, policy.distribution(batch)), batch.mask)

    Hv = fisher_vector_product(mean_kl, params, v, damping=0.0)
    assert torch.allclose(Hv, H @ v, atol=1e-10)
    Hv_damped = fisher_vector_product(mean_kl, params, v, damping=0.1)
    assert torch.allclose(Hv_damped, H @ v + 0.1 * v, atol=1e-10)


def test_an_accepted_step_stays_inside_the_trust_region_and_improves_the_surrogate(tiny):
    TinyPolicy, make_batch = tiny
    torch.manual_seed(1)
    policy = TinyPolicy()
    batch = make_batch(policy, n=256, seed=1)
    config = TRPOConfig(
        max_kl=0.01, normalize_advantages=False, value_epochs=1, value_minibatches=1
    )
    algo = TRPO(policy, config)
    with torch.no_grad():
        old = Categorical(logits=policy.pi(batch.obs))
    metrics = algo.update(batch)
    assert metrics["step_accepted"] == 1.0
    with torch.no_grad():
        kl = kl_divergence(old, policy.distribution(batch)).mean().item()
    assert kl <= config.max_kl + 1e-12
    assert metrics["surrogate_improvement"] > 0
    # the first backtracking step was the full natural-gradient step of KL ~ delta
    assert kl > 0.1 * config.max_kl


def test_a_rejected_step_keeps_the_old_parameters(tiny):
    TinyPolicy, make_batch = tiny
    torch.manual_seed(2)
    policy = TinyPolicy()
    batch = make_batch(policy, n=64, seed=2)
    # zero advantages: no direction improves the surrogate, so no step may be accepted
    batch.advantages = torch.zeros_like(batch.advantages)
    before = [p.detach().clone() for p in policy.policy_parameters()]
    algo = TRPO(policy, TRPOConfig(normalize_advantages=False, backtrack_iters=3))
    metrics = algo.update(batch)
    assert metrics["step_accepted"] == 0.0
    for b, p in zip(before, policy.policy_parameters()):
        assert torch.equal(b, p)


def test_flat_grad_concatenates_in_parameter_order():
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    b = nn.Parameter(torch.tensor([3.0]))
    g = flat_grad((w**2).sum() + 5 * b.sum(), [w, b])
    assert g.tolist() == [2.0, 4.0, 5.0]
