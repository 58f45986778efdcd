"""scripts/cartpole_probe.py (how CartPole episodes end, r_hat along the track) and
scripts/alive_bonus_growth.py (the learned alive bonus over refits on fixed labels)."""

from types import SimpleNamespace

import alive_bonus_growth
import cartpole_probe as probe
import numpy as np
import pytest
import torch

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.errors import ConfigError

SETTINGS = dict(num_envs=1, n_steps=200, total_steps=400, seed=0, eval_episodes=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A short PPO run on CartPole from 20 labels with the ends shown, and one on the true
    reward."""
    root = tmp_path_factory.mktemp("cartpole")
    prefs, true_reward = root / "prefs", root / "true"
    config = default_config(
        "ppo", "CartPole-v1", reward="preferences", labels=20, absorbing=True, **SETTINGS
    )
    train(config, prefs)
    train(default_config("ppo", "CartPole-v1", **SETTINGS), true_reward)
    return prefs, true_reward


def test_an_episode_is_read_as_the_time_limit_the_track_or_the_pole():
    assert probe.how_it_ended(np.array([2.5, 0, 0.01, 0]), True, 2.4) == "time limit"
    assert probe.how_it_ended(np.array([-2.41, 0, 0.01, 0]), False, 2.4) == "off the track"
    assert probe.how_it_ended(np.array([1.0, 0, 0.25, 0]), False, 2.4) == "pole fell"


def test_the_track_reward_is_the_mean_of_the_ends_minus_the_centre():
    """A learner paid 1 + x, the rest of the state ignored: centre 1, ends (1 - 2.4 + 1 + 2.4)
    / 2 - 1 = 0; paid |x|: centre 0, ends 2.4."""

    def learner(pay):
        return SimpleNamespace(rewards=lambda steps, obs: (pay(obs[:, 0, 0])[:, None], {}))

    assert probe.track_rewards(learner(lambda x: 1 + x), 2.4) == pytest.approx((1.0, 0.0))
    assert probe.track_rewards(learner(torch.abs), 2.4) == pytest.approx((0.0, 2.4))


def test_the_probe_plays_a_preference_run_and_a_true_reward_run(runs, capsys):
    prefs, true_reward = runs
    out = probe.probe(prefs, episodes=3)
    assert sum(out[e] for e in probe.ENDS) == 3 and out["mean_length"] >= 1
    assert np.isfinite(out["centre"]) and np.isfinite(out["ends_minus_centre"])
    assert probe.probe(true_reward, episodes=2)["centre"] is None  # no reward model to read
    probe.main([str(prefs), str(true_reward), "--episodes", "2"])
    printed = capsys.readouterr().out
    assert f"| {prefs.name} | - |" in printed  # eval_episodes=0: no final evaluation
    assert printed.rstrip().endswith("| - | - |")  # the true-reward run's reward cells


def test_an_env_other_than_cartpole_is_refused(tmp_path):
    train(default_config("ppo", "Pendulum-v1", **SETTINGS), tmp_path)
    with pytest.raises(ConfigError, match="reads CartPole's state"):
        probe.probe(tmp_path, episodes=1)


def test_the_growth_script_refits_a_fresh_ensemble_on_the_runs_labels(runs, capsys):
    prefs, _ = runs
    rows = alive_bonus_growth.growth(prefs, refits=3)
    assert [refit for refit, *_ in rows] == [1, 2, 3]
    assert all(np.isfinite(pay) for _, pay, _ in rows)
    # the same seed, the same fits: the script's table is reproducible
    assert alive_bonus_growth.growth(prefs, refits=3) == rows
    alive_bonus_growth.main([str(prefs), "--refits", "2"])
    assert "| 2 |" in capsys.readouterr().out
    # --keep-adam: the first refit is the same fit; from the second on the kept moments differ
    kept = alive_bonus_growth.growth(prefs, refits=3, keep_adam=True)
    assert kept[0] == rows[0] and kept[1] != rows[1]
    alive_bonus_growth.main([str(prefs), "--refits", "2", "--keep-adam"])
    assert "Adam kept across refits" in capsys.readouterr().out


def test_the_growth_script_needs_a_run_that_learned_an_alive_bonus(runs, tmp_path):
    _, true_reward = runs
    with pytest.raises(ConfigError, match="learned from the 'env' reward"):
        alive_bonus_growth.growth(true_reward, refits=1)
    config = default_config("ppo", "CartPole-v1", reward="preferences", labels=20, **SETTINGS)
    train(config, tmp_path)
    with pytest.raises(ConfigError, match="not run with --absorbing"):
        alive_bonus_growth.growth(tmp_path, refits=1)
