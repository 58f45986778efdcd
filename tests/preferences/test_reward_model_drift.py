"""scripts/reward_model_drift.py reads a finished preference run's reward model and agrees with
what training logged."""

import numpy as np
import pytest
import reward_model_drift

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.errors import ConfigError
from rlhf_from_scratch.utils.rundir import read_metrics


def test_the_newest_quarter_read_back_is_the_one_training_logged(tmp_path):
    settings = dict(num_envs=2, n_steps=200, seed=0, eval_episodes=0, total_steps=2400)
    config = default_config("ppo", "Pendulum-v1", reward="preferences", labels=60, **settings)
    train(config, tmp_path)
    last = read_metrics(tmp_path)[-1]
    row = reward_model_drift.drift(tmp_path, pool_pairs=200)
    assert row["labels"] == 60 and row["step"] == 2400
    assert row["eval_return"] is None  # no evaluation in this run (eval_episodes=0)
    assert row["acc_q4"] == pytest.approx(last["rm_val_accuracy_recent"])
    assert all(0 <= row[k] <= 1 for k in ("acc_q1", "acc_q2", "acc_q3", "acc_pool"))
    assert all(-1 <= row[f"corr_{k}"] <= 1 for k in ("q1", "q2", "q3", "q4", "pool"))

    true_reward = tmp_path / "true"
    train(default_config("ppo", "Pendulum-v1", **settings), true_reward)
    with pytest.raises(ConfigError, match="not preferences"):
        reward_model_drift.drift(true_reward)
    with pytest.raises(ConfigError, match="not a run directory"):
        reward_model_drift.drift(tmp_path / "nowhere")
    (tmp_path / "preferences.sqlite").unlink()
    with pytest.raises(ConfigError, match="no preference store"):
        reward_model_drift.drift(tmp_path)
    assert not (tmp_path / "preferences.sqlite").exists()  # and none made by looking


def test_rows_are_printed_as_a_markdown_table(tmp_path, capsys, monkeypatch):
    row = {"run": "r", "step": 1, "labels": 2, "eval_return": 3001.4}
    row.update({f"acc_{k}": 0.5 for k in ("q1", "q2", "q3", "q4", "pool")})
    row.update({f"corr_{k}": np.nan for k in ("q1", "q2", "q3", "q4", "pool")})
    row["bonus_pool"] = 2.345
    monkeypatch.setattr(reward_model_drift, "drift", lambda run_dir, pool_pairs: row)
    monkeypatch.setattr("sys.argv", ["reward_model_drift.py", str(tmp_path)])
    reward_model_drift.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[2].startswith("| r | 1 | 2 | 0.500 / nan |")
    assert lines[2].endswith("| 0.500 / nan | +2.35 | 3001 |")


def test_the_learners_bonus_in_true_units_is_read_back(tmp_path):
    """An oracle run with a fixed map r' = (r - m) / s x t + b pays b s / t - m per step beyond
    the true reward: here (r + 5) / 2 x 0.5 = 0.25 (r + 5), so 5 (b is 0: Pendulum's episodes all
    run to the time limit, where a bonus is refused)."""
    config = default_config(
        "ppo", "Pendulum-v1", reward="preferences", labels=20, num_envs=1, n_steps=200, seed=0,
        eval_episodes=0, total_steps=600, oracle_reward=True, oracle_mean=-5.0, oracle_std=2.0,
        rm_target_std=0.5,
    )  # fmt: skip
    train(config, tmp_path)
    assert reward_model_drift.drift(tmp_path, pool_pairs=20)["bonus_pool"] == pytest.approx(5.0)
