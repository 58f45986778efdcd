import numpy as np
import pytest
import torch

from rlhf_from_scratch.preferences.query import labels_wanted, select_pairs
from rlhf_from_scratch.preferences.reward_model import (
    RewardEnsemble,
    RewardModelConfig,
    accuracy,
)
from rlhf_from_scratch.preferences.segments import (
    Segment,
    SegmentPool,
    cut_segments,
    segment_length,
)
from rlhf_from_scratch.preferences.teachers import Teacher, TeacherConfig

OBS, ACT, H = 4, 2, 10
W = np.array([1.0, -2.0, 0.5, 0.0, 1.5, -1.0])  # the hidden linear reward r = w . [o, a]


def random_clip(rng) -> Segment:
    obs, act = rng.normal(size=(H, OBS)), rng.normal(size=(H, ACT))
    return Segment(
        obs=obs.astype(np.float32),
        actions=act.astype(np.float32),
        true_rewards=np.concatenate([obs, act], 1) @ W,
    )


def fitted_on_the_linear_reward(n_pairs: int, rng) -> tuple[RewardEnsemble, list, dict]:
    """An ensemble fitted to n_pairs oracle labels of the hidden linear reward."""
    teacher = Teacher(seed=0)
    labelled = []
    for i in range(n_pairs):
        a, b = random_clip(rng), random_clip(rng)
        labelled.append((i, a, b, teacher.label(a.true_rewards, b.true_rewards)))
    ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(epochs=30, lr=3e-3), seed=0)
    metrics = ensemble.fit(labelled, [random_clip(rng) for _ in range(50)])
    return ensemble, labelled, metrics


def test_the_ensemble_recovers_a_known_linear_reward():
    rng = np.random.default_rng(0)
    ensemble, _, metrics = fitted_on_the_linear_reward(400, rng)
    assert metrics["rm_val_accuracy"] > 0.9
    fresh = [random_clip(rng) for _ in range(200)]
    obs = torch.as_tensor(np.concatenate([c.obs for c in fresh]))
    act = torch.as_tensor(np.concatenate([c.actions for c in fresh]))
    r_hat = ensemble.reward(obs, act).numpy()
    r_true = np.concatenate([c.true_rewards for c in fresh])
    assert np.corrcoef(r_hat, r_true)[0, 1] > 0.9
    # normalised over the recent clips: mean ~0, std ~1
    assert abs(r_hat.mean()) < 0.3 and 0.7 < r_hat.std() < 1.3


def test_a_refit_starts_a_fresh_adam_unless_asked_to_keep_the_members_own():
    """fit() makes a new Adam per member each refit (training's way); fresh_optimizers=False
    steps the members' kept ones, whose step counts then carry over from refit to refit."""
    rng = np.random.default_rng(0)
    ensemble, labelled, _ = fitted_on_the_linear_reward(40, rng)
    steps = lambda: [  # noqa: E731
        sum(int(v["step"]) for v in opt.state.values()) for opt in ensemble.optimizers
    ]
    assert steps() == [0, 0, 0]  # the refit above left the kept Adams alone
    recent = [random_clip(rng) for _ in range(10)]
    ensemble.fit(labelled, recent, fresh_optimizers=False)
    once = steps()
    assert all(n > 0 for n in once)
    ensemble.weight_decay = 4e-4  # as the adaptive L2 rule would move it: the kept Adams follow
    ensemble.fit(labelled, recent, fresh_optimizers=False)
    assert steps() == [2 * n for n in once]
    assert {g["weight_decay"] for opt in ensemble.optimizers for g in opt.param_groups} == {4e-4}


@pytest.mark.parametrize(
    "train_loss,val_loss,expected",
    [(0.1, 0.3, 2e-4), (0.1, 0.12, 1e-4), (0.1, 0.15, 1e-4), (0.2, 0.1, 0.5e-4)],
)
def test_adaptive_l2_keeps_the_held_out_loss_within_1_1_to_1_5_times_the_training_loss(
    train_loss, val_loss, expected
):
    ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(adaptive_l2=True), seed=0)
    metrics = ensemble.adapt_l2(train_loss, val_loss)
    assert ensemble.weight_decay == pytest.approx(expected)
    assert metrics["rm_val_train_ratio"] == pytest.approx(val_loss / train_loss)
    # and the next refit's optimiser uses it
    assert ensemble._optimizer(ensemble.members[0]).param_groups[0]["weight_decay"] == expected


def test_adaptive_l2_stays_within_its_limits():
    config = RewardModelConfig(adaptive_l2=True, weight_decay=0.6)
    ensemble = RewardEnsemble((OBS,), ACT, False, config, seed=0)
    ensemble.adapt_l2(0.1, 1.0)
    assert ensemble.weight_decay == config.l2_limits[1]


def test_adaptive_l2_reins_in_a_reward_model_that_overfits_its_labels():
    """Few labels, many passes: the held-out loss runs far above the training loss. Refit
    after refit the rule raises L2 until the gap closes; fixed L2 leaves it open."""
    rng = np.random.default_rng(0)
    teacher = Teacher(TeacherConfig(eps=0.2), seed=0)
    labelled = []
    for i in range(60):
        a, b = random_clip(rng), random_clip(rng)
        labelled.append((i, a, b, teacher.label(a.true_rewards, b.true_rewards)))
    recent = [random_clip(rng) for _ in range(20)]
    ratios, decays = {}, {}
    for adaptive in (False, True):
        config = RewardModelConfig(epochs=8, lr=1e-2, adaptive_l2=adaptive)
        ensemble = RewardEnsemble((OBS,), ACT, False, config, seed=0)
        for _ in range(12):
            metrics = ensemble.fit(labelled, recent)
        ratios[adaptive] = metrics["rm_val_loss_members"] / metrics["rm_train_loss"]
        decays[adaptive] = ensemble.weight_decay
    assert ratios[False] > 1.5 and decays[False] == 1e-4
    assert decays[True] > 1e-2
    assert ratios[True] < 0.5 * ratios[False]


def test_accuracy_leaves_ties_out():
    r1, r2 = torch.tensor([1.0, 0.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 2.0, 1.0])
    # pair 1 right, pair 2 wrong (clip 1 was preferred), pair 3 a tie, pair 4 right (mu = 1)
    assert accuracy(r1, r2, torch.tensor([1.0, 1.0, 0.5, 1.0])) == pytest.approx(2 / 3)
    assert np.isnan(accuracy(r1, r2, torch.full((4,), 0.5)))


def test_recent_accuracy_is_the_newest_quarter_of_the_held_out_pairs():
    """A model that ranks old clips right and the newest ones wrong (drift): the accuracy over
    all held-out pairs hides it, the newest quarter's shows it."""
    ensemble, labelled, _ = fitted_on_the_linear_reward(300, np.random.default_rng(2))
    honest = ensemble.evaluate(labelled)
    assert honest["rm_val_accuracy_recent"] > 0.85
    # the newest 75 labels (a quarter) say the opposite of what the model learned
    drifted = labelled[:225] + [(i, a, b, 1.0 - mu) for i, a, b, mu in labelled[225:]]
    metrics = ensemble.evaluate(drifted)
    assert metrics["rm_val_accuracy_recent"] < 0.15
    assert metrics["rm_val_accuracy"] > 0.6  # still looks fine over all the pairs


def test_members_differ_so_that_disagreement_means_something():
    rng = np.random.default_rng(1)
    teacher = Teacher(seed=0)
    labelled = [
        (i, a, b, teacher.label(a.true_rewards, b.true_rewards))
        for i, (a, b) in enumerate((random_clip(rng), random_clip(rng)) for _ in range(60))
    ]
    ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(epochs=5), seed=0)
    ensemble.fit(labelled, [])
    pool = SegmentPool(100, rng)
    pool.add([random_clip(rng) for _ in range(100)])
    chosen = select_pairs(pool, 5, "disagreement", ensemble, oversample=10)
    assert len(chosen) == 5
    var_chosen = ensemble.preference_probabilities(chosen).var(0).mean()
    var_random = ensemble.preference_probabilities(pool.random_pairs(50)).var(0).mean()
    assert var_chosen > var_random


def test_target_mean_shifts_every_reward_the_learner_gets():
    # An alive bonus the designer adds: r_hat + c per step (labels cannot decide c).
    rng = np.random.default_rng(2)
    clips = [random_clip(rng) for _ in range(20)]
    obs = torch.as_tensor(np.concatenate([c.obs for c in clips]))
    act = torch.as_tensor(np.concatenate([c.actions for c in clips]))
    plain = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(), seed=0)
    shifted = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(target_mean=1.5), seed=0)
    for ensemble in (plain, shifted):
        ensemble.normalize(clips)
    assert torch.allclose(shifted.reward(obs, act), plain.reward(obs, act) + 1.5, atol=1e-5)
    assert abs(shifted.reward(obs, act).mean().item() - 1.5) < 1e-4


def test_uncertainty_penalty_pays_less_where_the_members_disagree():
    # r_hat = mean_k r_k - lambda std_k r_k, the lower confidence bound of the ensemble
    rng = np.random.default_rng(3)
    ensemble, _, _ = fitted_on_the_linear_reward(60, rng)
    fresh = [random_clip(rng) for _ in range(20)]
    obs = torch.as_tensor(np.concatenate([c.obs for c in fresh]))
    act = torch.as_tensor(np.concatenate([c.actions for c in fresh]))
    members = ensemble.member_rewards(obs, act).detach()
    spread = members.std(0)
    assert spread.min() > 0  # bootstrap members disagree, so the penalty has something to read
    plain = ensemble.reward(obs, act)
    assert torch.allclose(plain, members.mean(0), atol=1e-6)
    ensemble.config.uncertainty_penalty = 2.0
    cautious = ensemble.reward(obs, act)
    assert torch.allclose(cautious, members.mean(0) - 2.0 * spread, atol=1e-5)
    # the step the members disagree on most loses the most
    assert (plain - cautious).argmax() == spread.argmax()


@pytest.mark.parametrize(
    "settings,message",
    [
        (dict(uncertainty_penalty=-1.0), "uncertainty penalty must be >= 0"),
        (dict(uncertainty_penalty=1.0, members=1), "needs at least 2 members"),
    ],
)
def test_bad_uncertainty_penalty_is_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        RewardModelConfig(**settings).validate()


def test_label_schedule_starts_at_a_quarter_and_ends_at_the_budget():
    assert labels_wanted(0, 700, 1_000_000) == 175
    wanted = [labels_wanted(t, 700, 1_000_000) for t in range(0, 1_000_001, 50_000)]
    assert wanted == sorted(wanted) and wanted[-1] == 700
    # c / (T + T0): the rate decays, so the second half asks for fewer labels than the first
    assert wanted[10] - wanted[0] > wanted[20] - wanted[10]


def test_segments_stay_inside_one_episode():
    T, N, L = 30, 2, 5
    obs = torch.arange(T * N, dtype=torch.float32).view(T, N, 1)
    mask = torch.ones(T, N)
    done = torch.zeros(T, N)
    done[9, 0] = 1  # env 0's episode ends at step 9; step 10 is its reset step
    mask[10, 0] = 0
    clips = cut_segments(obs, obs, obs[..., 0], mask, done, L, 1000, np.random.default_rng(0))
    for c in clips:
        steps = c.obs[:, 0]
        t0 = int(steps[0]) // N
        env = int(steps[0]) % N
        window = range(t0, t0 + L)
        if env == 0:
            assert 10 not in window and not (t0 <= 9 < t0 + L - 1)
    assert len(clips) == len({(int(c.obs[0, 0])) for c in clips})


def test_clips_may_run_past_a_termination_but_not_past_a_time_limit():
    T, L = 10, 4
    obs = torch.arange(T, dtype=torch.float32).view(T, 1, 1) + 1  # step t holds t + 1
    mask, done = torch.ones(T, 1), torch.zeros(T, 1)
    done[5, 0], mask[6, 0] = 1, 0  # the episode ends at step 5; step 6 is the reset step
    cut = lambda terminated: cut_segments(  # noqa: E731
        obs, obs, obs[..., 0], mask, done, L, 100, np.random.default_rng(0), terminated
    )
    inside = {int(c.obs[0, 0]) - 1 for c in cut(None)}
    assert inside == {0, 1, 2}  # [0, 3], [1, 4], [2, 5]: the end may be the last step
    assert {int(c.obs[0, 0]) - 1 for c in cut(torch.zeros(T, 1))} == inside  # a time limit
    clips = {int(c.obs[0, 0]) - 1: c for c in cut(done)}  # a termination
    assert set(clips) == {0, 1, 2, 3, 4, 5}
    for t in (3, 4, 5):
        c, alive = clips[t], 6 - t  # steps t .. 5, then the absorbing state
        assert c.alive_steps == alive and c.alive().tolist() == [True] * alive + [False] * (
            L - alive
        )
        assert c.obs[:alive, 0].tolist() == [float(s + 1) for s in range(t, 6)]
        assert not c.obs[alive:].any() and not c.true_rewards[alive:].any()
    assert all(clips[t].alive_steps is None for t in (0, 1, 2))


def test_clips_that_show_the_end_teach_what_staying_alive_is_worth():
    """True reward 1 + 0.5 o_0 per step while alive, 0 after the end (CartPole-like).

    Without the end in the clips the constant 1 is invisible (lecture 003's quiz); with it,
    r_hat measured from r_abs has mean / std near the true reward's, 1 / 0.5 = 2.
    """
    rng = np.random.default_rng(3)

    def clip():
        obs = rng.normal(size=(H, OBS)).astype(np.float32)
        act = rng.normal(size=(H, ACT)).astype(np.float32)
        alive = int(rng.integers(1, H + 1))
        rewards = np.where(np.arange(H) < alive, 1 + 0.5 * obs[:, 0], 0.0)
        obs[alive:], act[alive:] = 0, 0
        return Segment(obs, act, rewards, alive_steps=None if alive == H else alive)

    teacher = Teacher(seed=0)
    labelled = []
    for i in range(400):
        a, b = clip(), clip()
        labelled.append((i, a, b, teacher.label(a.true_rewards, b.true_rewards)))
    config = RewardModelConfig(epochs=20, lr=3e-3, absorbing=True)
    ensemble = RewardEnsemble((OBS,), ACT, False, config, seed=0)
    metrics = ensemble.fit(labelled, [clip() for _ in range(100)])
    assert metrics["rm_val_accuracy"] > 0.9
    obs = torch.as_tensor(rng.normal(size=(2000, OBS)).astype(np.float32))
    r_hat = ensemble.reward(obs, torch.as_tensor(rng.normal(size=(2000, ACT)).astype(np.float32)))
    assert 1.4 < r_hat.mean().item() < 2.6, r_hat.mean()  # the alive bonus, learned
    plain = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(epochs=20, lr=3e-3), seed=0)
    plain.fit(labelled, [clip() for _ in range(100)])
    assert abs(plain.reward(obs, obs[:, :ACT]).mean().item()) < 0.3  # mean 0: no bonus


def test_segment_length_follows_the_env_dt():
    assert segment_length("mujoco", 0.008) == 188  # Hopper: 1.5 s at dt = 0.008
    assert segment_length("atari", None) == 25


def test_segments_longer_than_the_rollout_are_refused():
    from rlhf_from_scratch.utils.errors import ConfigError

    x = torch.zeros(4, 1, 1)
    with pytest.raises(ConfigError, match="longer than the rollouts"):
        cut_segments(
            x, x, x[..., 0], torch.ones(4, 1), torch.zeros(4, 1), 8, 1, np.random.default_rng(0)
        )


def linear_reward_labels(n_pairs: int, rng) -> list:
    teacher = Teacher(seed=0)
    labelled = []
    for i in range(1, n_pairs + 1):
        a, b = random_clip(rng), random_clip(rng)
        labelled.append((i, a, b, teacher.label(a.true_rewards, b.true_rewards)))
    return labelled


def test_the_budgeted_fit_recovers_a_known_linear_reward():
    """A few minibatches at a time, as labels arrive (the paper's Atari predictor)."""
    rng = np.random.default_rng(0)
    labelled = linear_reward_labels(400, rng)
    ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(lr=3e-3), seed=0)
    recent = [random_clip(rng) for _ in range(50)]
    for arrived in range(40, 401, 40):  # ten updates, 40 new labels and 30 minibatches each
        metrics = ensemble.fit_batches(labelled[:arrived], recent, batches=30)
    assert metrics["rm_val_accuracy"] > 0.9
    fresh = [random_clip(rng) for _ in range(200)]
    obs = torch.as_tensor(np.concatenate([c.obs for c in fresh]))
    act = torch.as_tensor(np.concatenate([c.actions for c in fresh]))
    r_true = np.concatenate([c.true_rewards for c in fresh])
    assert np.corrcoef(ensemble.reward(obs, act).numpy(), r_true)[0, 1] > 0.9


def test_bootstrap_counts_are_poisson_one_and_never_change():
    ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(), seed=3)
    first = ensemble.bootstrap_counts(0, list(range(1, 2001)))
    # Poisson(1): mean 1, variance 1, a share e^-1 of the pairs left out of this member
    assert abs(first.mean() - 1) < 0.07 and abs(first.var() - 1) < 0.1
    assert abs((first == 0).mean() - np.exp(-1)) < 0.03
    more = ensemble.bootstrap_counts(0, list(range(1, 5001)))
    assert (more[:2000] == first).all()  # labels arriving later leave earlier counts alone
    again = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(), seed=3)
    assert (again.bootstrap_counts(0, [5, 1, 700]) == first[[4, 0, 699]]).all()  # a resume
    assert (ensemble.bootstrap_counts(1, list(range(1, 2001))) != first).mean() > 0.4


def test_budgeted_fit_draws_only_the_newest_labels_its_bootstrap_kept(monkeypatch):
    rng = np.random.default_rng(1)
    labelled = linear_reward_labels(120, rng)
    ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(buffer=30, members=2), seed=0)
    seen: dict[int, set] = {0: set(), 1: set()}
    loss = RewardEnsemble._loss

    def spy(self, member, batch):
        seen[list(self.members).index(member)].update(cid for cid, *_ in batch)
        return loss(self, member, batch)

    monkeypatch.setattr(RewardEnsemble, "_loss", spy)
    ensemble.fit_batches(labelled, [], batches=40)
    train_ids, _ = ensemble.split([cid for cid, *_ in labelled])
    newest = {labelled[i][0] for i in train_ids[-30:]}
    for k in (0, 1):
        kept = {cid for cid in newest if ensemble.bootstrap_counts(k, [cid])[0] > 0}
        assert seen[k] == kept  # 40 x 32 draws from <= 30 pairs: every kept pair is drawn
    assert seen[0] != seen[1]


def test_the_atari_reward_net_is_the_papers_cnn():
    from rlhf_from_scratch.preferences.reward_model import PreferenceCNN, RewardNet

    config = RewardModelConfig(dropout=0.5)
    net = RewardNet((4, 84, 84), 6, True, config)
    assert isinstance(net.encoder, PreferenceCNN) and net.encoder.out_dim == 16 * 7 * 7
    convs = [m for m in net.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (16, 7, 3),
        (16, 5, 2),
        (16, 3, 1),
        (16, 3, 1),
    ]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.encoder.modules()) == 4
    assert [m.in_features for m in net.head if isinstance(m, torch.nn.Linear)] == [784 + 6, 64]
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    actions = torch.tensor([0, 1, 2, 3, 5])
    net.eval()  # no dropout: the same frames score the same
    assert torch.equal(net(frames, actions), net(frames, actions))
    fresh = RewardNet((4, 84, 84), 6, True, config)  # built, never run: batch norm untouched
    norms = [m for m in fresh.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.running_var.eq(1).all() and m.num_batches_tracked == 0 for m in norms)
    net.train()
    assert not torch.equal(net(frames, actions), net(frames, actions))
    frames_only = RewardNet((4, 84, 84), 6, True, RewardModelConfig(actions=False)).eval()
    assert [m.in_features for m in frames_only.head if isinstance(m, torch.nn.Linear)] == [784, 64]
    same = frames[:1].expand(6, -1, -1, -1)  # one frame with each of the six actions
    assert torch.allclose(frames_only(same, torch.arange(6)), frames_only(frames[:1], actions[:1]))


def test_uniform_dropout_keeps_1_minus_p_and_the_mean():
    from rlhf_from_scratch.preferences.reward_model import UniformDropout

    torch.manual_seed(0)
    drop, x = UniformDropout(0.3), torch.full((200_000,), 2.0, requires_grad=True)
    y = drop.train()(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    assert torch.allclose(y[kept], torch.tensor(2.0 / 0.7))  # survivors scaled by 1 / (1 - p)
    assert abs(y.mean().item() - 2.0) < 0.02
    y.sum().backward()  # the gradient flows through the kept units only, with the same scale
    assert torch.equal(x.grad, kept.float() / 0.7)
    assert drop.eval()(x) is x and UniformDropout(0.0).train()(x) is x


@pytest.mark.parametrize("order", [torch.contiguous_format, torch.channels_last])
def test_dropout_at_one_half_flips_a_fair_coin_per_unit(order):
    """p = 0.5 draws its mask from the bits of random bytes: half of the units in every
    channel and at every position, each kept unit doubled, the layout of the input kept."""
    from rlhf_from_scratch.preferences.reward_model import UniformDropout

    torch.manual_seed(0)
    x = torch.full((64, 16, 26, 26), 3.0).contiguous(memory_format=order).requires_grad_()
    y = UniformDropout(0.5).train()(x)
    assert y.is_contiguous(memory_format=order)
    kept = (y != 0).float()
    assert set(y.unique().tolist()) == {0.0, 6.0}
    assert abs(kept.mean().item() - 0.5) < 0.003
    assert (kept.mean((0, 2, 3)) - 0.5).abs().max() < 0.01  # no channel favoured
    assert (kept.mean((0, 1)) - 0.5).abs().max() < 0.075  # nor any position (1024 units each)
    # neighbours in memory are independent: a kept unit's next one is kept half the time
    flat = kept.permute(0, 2, 3, 1).flatten() if order == torch.channels_last else kept.flatten()
    assert abs((flat[1:] * flat[:-1]).mean().item() - 0.25) < 0.003
    y.sum().backward()
    assert torch.equal(x.grad, kept * 2)
    odd = torch.ones(7, 3)  # a size that is not a multiple of 8
    assert UniformDropout(0.5).train()(odd).shape == (7, 3)


def test_normalising_on_a_sample_of_steps():
    rng = np.random.default_rng(4)
    clips = [random_clip(rng) for _ in range(300)]  # 3000 steps
    obs = torch.as_tensor(np.concatenate([c.obs for c in clips]))
    act = torch.as_tensor(np.concatenate([c.actions for c in clips]))
    every = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(), seed=0)
    every.normalize(clips)
    r = every.member_rewards(obs, act)  # [members, steps]
    assert r.mean(1).abs().max() < 1e-4 and (r.std(1) - 1).abs().max() < 1e-3
    sampled = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(), seed=0)
    seen = []
    for member in sampled.members:
        member.register_forward_hook(lambda module, args, out: seen.append(len(out)))
    sampled.normalize(clips, steps=800)
    assert seen == [800] * 3  # each member read 800 steps, not 3000
    r = sampled.member_rewards(obs, act)  # and they stand for all 3000
    assert r.mean(1).abs().max() < 0.1 and (r.std(1) - 1).abs().max() < 0.1
    whole = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(), seed=0)
    whole.normalize(clips, steps=5000)  # more than there are: every step, as without `steps`
    assert torch.equal(whole.reward(obs, act), every.reward(obs, act))


def test_frames_kept_on_the_device_give_the_same_fit_and_only_the_buffer_is_kept():
    """The GPU path's cache of labelled clips, run on the CPU: the same losses as without it."""
    rng = np.random.default_rng(2)
    labelled = linear_reward_labels(60, rng)
    fits = {}
    for cache in (False, True):
        ensemble = RewardEnsemble((OBS,), ACT, False, RewardModelConfig(buffer=20), seed=0)
        ensemble.cache_frames = cache
        fits[cache] = [ensemble.fit_batches(labelled[:n], [], batches=3) for n in (30, 60)]
    assert fits[True] == fits[False]
    train_ids, _ = ensemble.split([cid for cid, *_ in labelled])
    window = {labelled[i][0] for i in train_ids[-20:]}
    assert {cid for cid, _ in ensemble.frames} <= window
    cid, first, second, _ = labelled[train_ids[-1]]
    assert torch.equal(ensemble.frames[(cid, 2)], torch.as_tensor(second.obs))
