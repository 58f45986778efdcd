"""scripts/reward_model_judges.py: a preference run's reward model scores other runs' play."""

import pytest
import reward_model_judges

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.errors import ConfigError

SETTINGS = dict(num_envs=1, n_steps=200, total_steps=400, eval_episodes=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    pref, true = root / "pref", root / "true"
    train(
        default_config("ppo", "Pendulum-v1", reward="preferences", labels=6, seed=0, **SETTINGS),
        pref,
    )
    train(default_config("ppo", "Pendulum-v1", seed=1, **SETTINGS), true)
    return pref, true


def test_each_policy_is_scored_by_the_preference_runs_model(runs, capsys):
    pref, true = runs
    rows = reward_model_judges.judge(pref, [true, pref], episodes=2, seed=3)
    assert [r["run"] for r in rows] == ["pref", "true", "pref"]
    assert rows[0] == rows[2]  # deterministic play from the same env seeds
    for r in rows:
        assert r["length"] == 200  # Pendulum's episodes are truncated at 200 steps
        assert r["r_hat_return"] == pytest.approx(r["r_hat_per_step"] * 200)
    assert rows[0]["true_return"] != rows[1]["true_return"]  # two policies, two plays
    # a seed moves the episodes
    assert reward_model_judges.judge(pref, [], episodes=2, seed=4)[0] != rows[0]
    reward_model_judges.main([str(pref), str(true), "--episodes", "1"])
    assert "| true | 200 |" in capsys.readouterr().out


def test_a_true_reward_run_cannot_judge_and_envs_must_match(runs, tmp_path):
    pref, true = runs
    with pytest.raises(ConfigError, match="no reward model"):
        reward_model_judges.judge(true, [pref], episodes=1)
    other = tmp_path / "other"
    train(default_config("ppo", "MountainCarContinuous-v0", seed=0, **SETTINGS), other)
    with pytest.raises(ConfigError, match="same env"):
        reward_model_judges.judge(pref, [other], episodes=1)
