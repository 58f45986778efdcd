"""The assignments: which functions are cut out, and the graded checks of a submission.

Each check receives the student's module (their copy of the package file, loaded on its own)
and raises AssertionError with a sentence for the student when the answer is wrong. Checks
compare with hand-computed values and with the properties the lecture states (GAE with
lambda = 1 is reward-to-go minus V; Bradley-Terry is blind to a shift), and with the reference
implementation on random inputs, so a wrong sign, a missing bootstrap or a bootstrap after a
real ending each cost the points of the check that names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import torch

from rlhf_from_scratch.algos import ppo as ppo_reference
from rlhf_from_scratch.algos import reinforce as reinforce_reference
from rlhf_from_scratch.algos.batch import Batch
from rlhf_from_scratch.algos.toy import TinyPolicy, tiny_batch
from rlhf_from_scratch.maths import bradley_terry as bt_reference
from rlhf_from_scratch.maths import returns as returns_reference


@dataclass
class Check:
    name: str
    points: float
    run: Callable[[ModuleType], None]


@dataclass
class Assignment:
    name: str
    title: str
    lectures: str
    module: str  # the package module the student completes, e.g. rlhf_from_scratch.maths.returns
    functions: list[str]  # the bodies cut out: 'name' or 'Class.method'
    checks: list[Check] = field(default_factory=list)

    @property
    def file_name(self) -> str:
        return self.module.rsplit(".", 1)[-1] + ".py"

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


def close(got, want, what: str, atol: float = 1e-5) -> None:
    """Assert that a student's tensor equals the expected one, saying what and where if not."""
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    assert got.shape == want.shape, (
        f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    )
    if not torch.allclose(got, want, atol=atol, rtol=1e-4):
        where = (got - want).abs().flatten().argmax().item()
        raise AssertionError(
            f"{what}: got {got.flatten()[where].item():.6g} at flat index {where}, expected "
            f"{want.flatten()[where].item():.6g}"
        )


# ---- returns and GAE (lectures 001, 002) -------------------------------------------------------
def _rollout(seed: int = 0, T: int = 12, N: int = 3):
    """Random rewards and values with one termination and one truncation in the middle."""
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, N, generator=g, dtype=torch.float64)
    values = torch.randn(T + 1, N, generator=g, dtype=torch.float64)
    terminated = torch.zeros(T, N, dtype=torch.float64)
    truncated = torch.zeros(T, N, dtype=torch.float64)
    terminated[4, 0] = terminated[7, 1] = 1.0
    truncated[8, 0] = truncated[3, 2] = 1.0
    return rewards, values, terminated, truncated


def check_discounted_return(m: ModuleType) -> None:
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    close(m.discounted_return(rewards, 0.9), [2.71], "discounted_return([1, 1, 1], gamma=0.9)")
    r = _rollout()[0]
    close(m.discounted_return(r, 0.97), returns_reference.discounted_return(r, 0.97), "G")


def check_reward_to_go_episode_ends(m: ModuleType) -> None:
    rewards, _, terminated, truncated = _rollout()
    got, known = m.reward_to_go(rewards, terminated, truncated, 0.9)
    want, want_known = returns_reference.reward_to_go(rewards, terminated, truncated, 0.9)
    close(got[:4, 0], want[:4, 0], "G_t in an episode that ends by termination at t=4")
    close(known, want_known, "known (1 where G_t is a finished episode's return)")
    close(got, want, "G_t without values")


def check_reward_to_go_bootstraps_truncation_only(m: ModuleType) -> None:
    rewards, values, terminated, truncated = _rollout(seed=1)
    got, _ = m.reward_to_go(rewards, terminated, truncated, 0.9, values)
    want, _ = returns_reference.reward_to_go(rewards, terminated, truncated, 0.9, values)
    close(
        got[4, 0], rewards[4, 0], "G_4 right before a termination (no bootstrap after a real end)"
    )
    close(
        got[8, 0],
        rewards[8, 0] + 0.9 * values[9, 0],
        "G_8 at a time-limit cut: r_8 + gamma V(s_9), the final observation's value",
    )
    close(got, want, "G_t with values (the last episode bootstrapped with V(s_T))")


def check_gae_lambda_limits(m: ModuleType) -> None:
    rewards, values, terminated, truncated = _rollout(seed=2)
    adv0, _ = m.gae(rewards, values, terminated, truncated, 0.99, 0.0)
    td = rewards + 0.99 * (1 - terminated) * values[1:] - values[:-1]
    close(adv0, td, "GAE with lambda = 0 (it is the one-step TD error)")
    adv1, _ = m.gae(rewards, values, terminated, truncated, 0.99, 1.0)
    rtg, _ = returns_reference.reward_to_go(rewards, terminated, truncated, 0.99, values)
    close(adv1, rtg - values[:-1], "GAE with lambda = 1 (it is reward-to-go minus V(s_t))")


def check_gae_matches_reference(m: ModuleType) -> None:
    for seed in (3, 4):
        rewards, values, terminated, truncated = _rollout(seed=seed, T=20, N=4)
        adv, ret = m.gae(rewards, values, terminated, truncated, 0.98, 0.9)
        want_adv, want_ret = returns_reference.gae(
            rewards, values, terminated, truncated, 0.98, 0.9
        )
        close(adv, want_adv, f"GAE advantages (gamma 0.98, lambda 0.9, seed {seed})")
        close(ret, want_ret, "the value targets A_t + V(s_t)")


# ---- Bradley-Terry (lectures 000, 001, 003, 004) -----------------------------------------------
def check_preference_probability(m: ModuleType) -> None:
    r1, r2 = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([0.0, 0.0, 3.0])
    close(m.preference_probability(r1, r2), torch.sigmoid(r1 - r2), "P[y1 > y2]")
    close(
        m.preference_probability(r1 + 5.0, r2 + 5.0),
        m.preference_probability(r1, r2),
        "P after adding 5 to both rewards (a shift changes no preference)",
    )


def check_bradley_terry_loss_by_hand(m: ModuleType) -> None:
    r1, r2 = torch.tensor([1.0]), torch.tensor([0.0])
    p = torch.sigmoid(torch.tensor(1.0))
    close(m.bradley_terry_loss(r1, r2, 1.0), -p.log(), "loss, first preferred (mu = 1)")
    close(m.bradley_terry_loss(r1, r2, 0.0), -(1 - p).log(), "loss, second preferred (mu = 0)")
    tie = -(0.5 * p.log() + 0.5 * (1 - p).log())
    close(m.bradley_terry_loss(r1, r2, 0.5), tie, "loss of a tie (mu = 0.5)")
    r1, r2 = torch.tensor([0.3, -2.0, 1.5]), torch.tensor([0.0, 1.0, -0.5])
    mu = torch.tensor([1.0, 0.0, 0.5])
    close(m.bradley_terry_loss(r1, r2, mu), bt_reference.bradley_terry_loss(r1, r2, mu), "mean")


def check_bradley_terry_random_responses(m: ModuleType) -> None:
    r1, r2 = torch.tensor([8.0, -3.0]), torch.tensor([0.0, 2.0])
    mu = torch.tensor([0.0, 1.0])  # both labels disagree with the rewards
    got = m.bradley_terry_loss(r1, r2, mu, eps=0.1)
    close(got, bt_reference.bradley_terry_loss(r1, r2, mu, eps=0.1), "loss with eps = 0.1")
    assert got < -torch.log(torch.tensor(0.05)) + 1e-6, (
        "with 10% random answers P stays in [0.05, 0.95]: one wrong label costs at most -log 0.05"
    )


def check_bradley_terry_is_stable(m: ModuleType) -> None:
    r1, r2 = torch.tensor([100.0, -100.0]), torch.tensor([-100.0, 100.0])
    got = m.bradley_terry_loss(r1, r2, torch.tensor([0.0, 1.0]))
    assert torch.isfinite(got), "loss is not finite for reward gaps of 200: use logsigmoid"
    close(got, torch.tensor(200.0), "loss of two confidently wrong pairs (gap 200)", atol=1e-3)


def check_kwise_ranking_loss(m: ModuleType) -> None:
    g = torch.Generator().manual_seed(5)
    rewards = torch.randn(4, 3, generator=g)
    pairs = [(0, 1), (0, 2), (1, 2)]
    by_hand = torch.stack(
        [-torch.nn.functional.logsigmoid(rewards[:, i] - rewards[:, j]) for i, j in pairs]
    ).mean()
    close(m.kwise_ranking_loss(rewards), by_hand, "K = 3 ranking, best first: mean over 3 pairs")
    ranks = torch.tensor([[0, 0, 1], [2, 1, 0], [0, 1, 1], [1, 0, 2]])
    want = bt_reference.kwise_ranking_loss(rewards, ranks)
    close(m.kwise_ranking_loss(rewards, ranks), want, "rankings with ties (equal ranks)")


# ---- PPO's loss (lectures 001, 002) -------------------------------------------------------------
def _tiny_policy() -> TinyPolicy:
    torch.manual_seed(0)
    return TinyPolicy(hidden=8, n_actions=3)


def _ppo_batch(shift: float = 0.0, seed: int = 0) -> Batch:
    """32 actions of the tiny policy, 4 rows of padding (which must change nothing)."""
    return tiny_batch(_tiny_policy(), 32, seed, logp_noise=shift, padding=4, random_values=True)


def _both_losses(m: ModuleType, batch: Batch, **config):
    policy = _tiny_policy()
    got = m.PPO(policy, m.PPOConfig(**config)).loss(batch)
    want = ppo_reference.PPO(policy, ppo_reference.PPOConfig(**config)).loss(batch)
    return got, want


def check_ppo_first_minibatch(m: ModuleType) -> None:
    (_, stats), _ = _both_losses(m, _ppo_batch())
    close(stats["approx_kl"], 0.0, "approx_kl when pi = pi_old (the first minibatch)")
    close(stats["clipfrac"], 0.0, "clipfrac when every ratio is 1")
    close(stats["ratio_mean"], 1.0, "the mean ratio pi / pi_old on the first minibatch")


def check_ppo_clipped_loss(m: ModuleType) -> None:
    batch = _ppo_batch(shift=0.5, seed=1)
    (loss, stats), (want, want_stats) = _both_losses(m, batch, ent_coef=0.01)
    for key in ("policy_loss", "value_loss", "entropy", "clipfrac"):
        close(stats[key], want_stats[key], f"{key} (clip 0.2, ratios away from 1)")
    close(loss, want, "the total loss L^POLICY + c1 L^VF - c2 H")


def check_ppo_loss_gradient(m: ModuleType) -> None:
    batch = _ppo_batch(shift=0.5, seed=2)
    grads = []
    for module in (m, ppo_reference):
        policy = _tiny_policy()
        loss, _ = module.PPO(policy, module.PPOConfig(ent_coef=0.01)).loss(batch)
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in policy.parameters()]))
    close(grads[0], grads[1], "the gradient of the loss (no gradient through clipped ratios)")


def check_ppo_kl_variant(m: ModuleType) -> None:
    batch = _ppo_batch(shift=0.3, seed=3)
    (loss, _), (want, _) = _both_losses(m, batch, variant="kl", kl_beta=2.0)
    close(loss, want, "the KL-penalty variant's loss, beta = 2")


# ---- TRPO's natural-gradient machinery (lecture 002) --------------------------------------------
def check_conjugate_gradient_solves(m: ModuleType) -> None:
    g = torch.Generator().manual_seed(6)
    q = torch.randn(6, 6, generator=g, dtype=torch.float64)
    a = q @ q.T + 0.5 * torch.eye(6, dtype=torch.float64)  # symmetric positive-definite
    b = torch.randn(6, generator=g, dtype=torch.float64)
    calls = []

    def matvec(v):
        calls.append(1)
        return a @ v

    x = m.conjugate_gradient(matvec, b, iters=20)
    close(a @ x, b, "A x for the x conjugate gradient returned (20 iterations, 6 unknowns)")
    assert len(calls) <= 20, f"matvec was called {len(calls)} times for iters=20"


def check_conjugate_gradient_zero(m: ModuleType) -> None:
    b = torch.zeros(4, dtype=torch.float64)
    x = m.conjugate_gradient(lambda v: 2 * v, b, iters=5)
    close(x, b, "the solution of A x = 0 (no division by zero on the way)")
    x = m.conjugate_gradient(lambda v: 2 * v, torch.ones(4, dtype=torch.float64), iters=5)
    close(x, torch.full((4,), 0.5), "the solution of 2 x = 1")


def _tiny_kl_problem():
    """Parameters of a 3-4-2 categorical net, its mean KL to itself before a step, and the
    same KL as a function of one flat vector (for the dense autograd Hessian)."""
    g = torch.Generator().manual_seed(7)
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    params = [torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_() for s in shapes]
    obs = torch.randn(10, 3, generator=g, dtype=torch.float64)

    def logits(w1, b1, w2, b2):
        return torch.tanh(obs @ w1.T + b1) @ w2.T + b2

    old = torch.log_softmax(logits(*params), -1).detach()

    def kl_of(*ps):
        new = torch.log_softmax(logits(*ps), -1)
        return (old.exp() * (old - new)).sum(-1).mean()

    def kl_flat(flat):
        sizes = [p.numel() for p in params]
        return kl_of(*[c.view(p.shape) for c, p in zip(flat.split(sizes), params)])

    return params, lambda: kl_of(*params), kl_flat


def check_fisher_vector_product(m: ModuleType) -> None:
    params, mean_kl, kl_flat = _tiny_kl_problem()
    flat = torch.cat([p.detach().flatten() for p in params])
    hessian = torch.autograd.functional.hessian(kl_flat, flat)
    v = torch.randn(flat.numel(), generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    got = m.fisher_vector_product(mean_kl, params, v)
    close(got, hessian @ v, "H v, H the Hessian of the mean KL (compared with autograd's)")
    got = m.fisher_vector_product(mean_kl, params, v, damping=0.1)
    close(got, hessian @ v + 0.1 * v, "(H + damping I) v with damping 0.1")


# ---- DPO (lecture 003) ---------------------------------------------------------------------------
def check_implicit_reward(m: ModuleType) -> None:
    logp, ref = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -5.0])
    close(m.implicit_reward(logp, ref, 0.1), [0.1, 0.0], "beta log(pi / pi_ref), beta = 0.1")


def check_dpo_loss_by_hand(m: ModuleType) -> None:
    w, l_, rw, rl = (torch.tensor([x]) for x in (-2.0, -3.0, -2.5, -2.5))
    margin = 0.5 * ((-2.0 + 2.5) - (-3.0 + 2.5))
    want = -torch.nn.functional.logsigmoid(torch.tensor([margin])).mean()
    close(m.dpo_loss(w, l_, rw, rl, 0.5), want, "-log sigma(beta (log-ratio_w - log-ratio_l))")
    g = torch.Generator().manual_seed(9)
    args = [torch.randn(5, generator=g) for _ in range(4)]
    mu = torch.tensor([1.0, 1.0, 0.5, 0.0, 1.0])
    from rlhf_from_scratch.lm import dpo as dpo_reference  # here: the LM world loads only for DPO

    close(m.dpo_loss(*args, 0.2, mu), dpo_reference.dpo_loss(*args, 0.2, mu), "with ties")


def check_dpo_log_z_cancels(m: ModuleType) -> None:
    g = torch.Generator().manual_seed(10)
    w, l_, rw, rl = (torch.randn(4, generator=g) for _ in range(4))
    shift = torch.randn(4, generator=g)  # beta log Z(x): the same for both answers to a prompt
    close(
        m.dpo_loss(w + shift, l_ + shift, rw, rl, 0.3),
        m.dpo_loss(w, l_, rw, rl, 0.3),
        "the loss after adding the same number to log pi of both answers (log Z cancels)",
    )
    w.requires_grad_()
    m.dpo_loss(w, l_, rw, rl, 0.3).backward()
    assert (w.grad < 0).all(), "the loss must fall as log pi(y_w | x) rises"


# ---- REINFORCE's weights: which return, which baseline (lecture 002) ----------------------------
def _weights(m: ModuleType, groups=None, **config):
    """The student's and the reference's (weight, G_t, known) on the same rollout."""
    rollout = _rollout(seed=11, T=12, N=4)
    got, want = (
        module.Reinforce(TinyPolicy(), module.ReinforceConfig(gamma=0.9, **config)).estimate(
            *rollout, groups
        )
        for module in (m, reinforce_reference)
    )
    return got, want


def check_reinforce_total_return(m: ModuleType) -> None:
    (weight, _, known), (want, _, want_known) = _weights(m, return_type="total", baseline="none")
    close(known, want_known, "known (finished episodes only, without a value baseline)")
    close(weight * known, want * want_known, "every step weighted by its episode's total return")


def check_reinforce_reward_to_go(m: ModuleType) -> None:
    (weight, rtg, known), (want, want_rtg, _) = _weights(
        m, return_type="reward_to_go", baseline="none"
    )
    close(weight * known, want * known, "weights = reward-to-go G_t (no baseline)")
    close(rtg * known, want_rtg * known, "the value targets G_t")


def check_reinforce_constant_baseline(m: ModuleType) -> None:
    (weight, _, known), (want, _, _) = _weights(m, return_type="reward_to_go", baseline="constant")
    close(weight * known, want * known, "G_t minus the mean G over the finished steps")


def check_reinforce_value_baseline(m: ModuleType) -> None:
    (weight, rtg, known), (want, want_rtg, want_known) = _weights(
        m, return_type="reward_to_go", baseline="value"
    )
    close(known, want_known, "known (every step: the last episode is bootstrapped with V(s_T))")
    close(rtg, want_rtg, "G_t bootstrapped with V at time-limit cuts and at the rollout's end")
    close(weight, want, "G_t - V(s_t)")


def check_reinforce_leave_one_out(m: ModuleType) -> None:
    groups = torch.tensor([0, 0, 1, 1])  # two prompts, two samples each
    (weight, _, known), (want, _, _) = _weights(
        m, groups, return_type="total", baseline="leave_one_out"
    )
    close(weight * known, want * known, "G_i minus the mean of the other samples of its prompt")


ASSIGNMENTS: dict[str, Assignment] = {
    a.name: a
    for a in [
        Assignment(
            "returns",
            "Returns, reward-to-go and GAE, with termination and truncation kept apart",
            "001, 002",
            "rlhf_from_scratch.maths.returns",
            ["discounted_return", "reward_to_go", "gae"],
            [
                Check("discounted_return: G = sum_t gamma^t r_t", 1, check_discounted_return),
                Check(
                    "reward_to_go: episode ends and the known mask",
                    2,
                    check_reward_to_go_episode_ends,
                ),
                Check(
                    "reward_to_go: truncation bootstraps V(s_T+1), termination does not",
                    2,
                    check_reward_to_go_bootstraps_truncation_only,
                ),
                Check(
                    "gae: lambda = 0 is the TD error, lambda = 1 is G - V",
                    3,
                    check_gae_lambda_limits,
                ),
                Check("gae: general lambda, against the reference", 2, check_gae_matches_reference),
            ],
        ),
        Assignment(
            "bradley_terry",
            "The Bradley-Terry model and the reward-model losses built on it",
            "000, 001, 003, 004",
            "rlhf_from_scratch.maths.bradley_terry",
            ["preference_probability", "bradley_terry_loss", "kwise_ranking_loss"],
            [
                Check(
                    "preference_probability: sigma(r1 - r2), shift-invariant",
                    1,
                    check_preference_probability,
                ),
                Check(
                    "bradley_terry_loss: mu = 1, 0 and ties, by hand",
                    2,
                    check_bradley_terry_loss_by_hand,
                ),
                Check(
                    "bradley_terry_loss: 10% random responses",
                    1,
                    check_bradley_terry_random_responses,
                ),
                Check(
                    "bradley_terry_loss: finite for large reward gaps",
                    1,
                    check_bradley_terry_is_stable,
                ),
                Check("kwise_ranking_loss: K choose 2 pairs, ties", 2, check_kwise_ranking_loss),
            ],
        ),
        Assignment(
            "reinforce",
            "REINFORCE's weights: total return or reward-to-go, and the four baselines",
            "002",
            "rlhf_from_scratch.algos.reinforce",
            ["Reinforce.estimate"],
            [
                Check("total return, no baseline", 1, check_reinforce_total_return),
                Check("reward-to-go, no baseline", 1, check_reinforce_reward_to_go),
                Check("constant baseline (the mean return)", 1, check_reinforce_constant_baseline),
                Check("learned baseline V(s_t), bootstrapped", 2, check_reinforce_value_baseline),
                Check("leave-one-out baseline (RLOO)", 1, check_reinforce_leave_one_out),
            ],
        ),
        Assignment(
            "ppo_loss",
            "PPO's clipped surrogate, value loss and entropy bonus (and the KL-penalty variant)",
            "001, 002",
            "rlhf_from_scratch.algos.ppo",
            ["PPO.loss"],
            [
                Check(
                    "ratio 1, clipfrac 0, approx_kl 0 on the first minibatch",
                    1,
                    check_ppo_first_minibatch,
                ),
                Check("clipped loss and its parts, padding masked", 3, check_ppo_clipped_loss),
                Check("the loss's gradient", 2, check_ppo_loss_gradient),
                Check("the KL-penalty variant", 1, check_ppo_kl_variant),
            ],
        ),
        Assignment(
            "trpo",
            "TRPO's conjugate gradient and Fisher-vector product (never a dense matrix)",
            "002",
            "rlhf_from_scratch.algos.trpo",
            ["conjugate_gradient", "fisher_vector_product"],
            [
                Check(
                    "conjugate_gradient solves an SPD system", 2, check_conjugate_gradient_solves
                ),
                Check("conjugate_gradient: b = 0 and A = 2I", 1, check_conjugate_gradient_zero),
                Check(
                    "fisher_vector_product: the KL's Hessian times v, damped",
                    3,
                    check_fisher_vector_product,
                ),
            ],
        ),
        Assignment(
            "dpo",
            "Direct preference optimisation: the implicit reward and the DPO loss",
            "003",
            "rlhf_from_scratch.lm.dpo",
            ["implicit_reward", "dpo_loss"],
            [
                Check("implicit_reward: beta log(pi / pi_ref)", 1, check_implicit_reward),
                Check("dpo_loss by hand, and with ties", 2, check_dpo_loss_by_hand),
                Check(
                    "dpo_loss: log Z cancels; the gradient favours y_w", 2, check_dpo_log_z_cancels
                ),
            ],
        ),
    ]
}
