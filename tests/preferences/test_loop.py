"""The interleaved loop end to end: every algorithm learns from r_hat, never from the env."""

import pytest
import torch

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.preferences.store import PreferenceStore
from rlhf_from_scratch.utils.errors import ConfigError
from rlhf_from_scratch.utils.rundir import read_metrics

PENDULUM = dict(
    num_envs=4, n_steps=1024, n_epochs=10, n_minibatches=64, lr=1e-3, gamma=0.9, ent_coef=0.0
)


@pytest.mark.slow
def test_ppo_learns_pendulum_from_a_few_hundred_synthetic_labels(tmp_path):
    """Random policy: about -1200. PPO on the true reward reaches about -160 in 100k steps."""
    config = default_config(
        "ppo",
        "Pendulum-v1",
        total_steps=100_000,
        seed=1,
        reward="preferences",
        labels=300,
        eval_episodes=10,
        **PENDULUM,
    )
    summary = train(config, tmp_path)
    assert summary["labels_used"] == 300
    assert summary["eval_return_mean"] >= -700, summary
    rows = read_metrics(tmp_path)
    assert rows[-1]["rm_true_corr"] > 0.8  # r_hat tracks the hidden reward on fresh rollouts


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "trpo", "ppo"])
def test_every_algorithm_trains_on_r_hat(algo, tmp_path, monkeypatch):
    seen = {}
    import rlhf_from_scratch.envs.train as train_module

    original = train_module.PreferenceLearner.rewards

    def spy(self, rollout, raw_obs):
        r_hat, metrics = original(self, rollout, raw_obs)
        seen["r_hat"], seen["true"] = r_hat, rollout.true_rewards
        return r_hat, metrics

    monkeypatch.setattr(train_module.PreferenceLearner, "rewards", spy)
    config = default_config(
        algo,
        "Pendulum-v1",
        num_envs=2,
        n_steps=200,
        total_steps=800,
        seed=0,
        reward="preferences",
        labels=20,
        eval_episodes=1,
    )
    summary = train(config, tmp_path)
    rows = read_metrics(tmp_path)
    assert summary["labels_used"] >= 5 and rows[-1]["labels_used"] == summary["labels_used"]
    assert {"rm_true_corr", "rm_disagreement", "labels_used"} <= set(rows[-1])
    assert not torch.allclose(seen["r_hat"], seen["true"])  # the learner got r_hat


def test_labels_survive_a_resume_and_are_not_asked_again(tmp_path):
    config = default_config(
        "ppo",
        "Pendulum-v1",
        num_envs=2,
        n_steps=200,
        total_steps=1600,
        seed=0,
        reward="preferences",
        labels=40,
        eval_episodes=0,
        checkpoint_every=1,
    )

    class Kill(Exception):
        pass

    def kill(step, metrics):
        if step == 1200:
            raise Kill

    with pytest.raises(Kill):
        train(config, tmp_path, on_update=kill)
    before = len(PreferenceStore(tmp_path / "preferences.sqlite", "Pendulum-v1"))
    summary = train(config, tmp_path, resume=True)
    assert before >= 10 and summary["labels_used"] == 40


@pytest.mark.parametrize(
    "overrides,message",
    [
        (dict(reward="preferences", labels=0), "label budget must be > 0"),
        (dict(reward="preferences", labeler="orcale"), "did you mean 'oracle'"),
        (dict(reward="preferences", segment_steps=600), "longer than the episodes of CartPole-v1"),
        (dict(labels=100), "only apply with --reward preferences"),
    ],
)
def test_bad_preference_settings_are_refused(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        config = default_config("ppo", "CartPole-v1", total_steps=256, **overrides)
        train(config, tmp_path)
    assert not (tmp_path / "config.json").exists()  # a corrected rerun may use the same folder
