"""scripts/torso_pitch_probe.py: upright or on its back, from the torso's pitch."""

import gymnasium as gym
import numpy as np
import pytest
import torso_pitch_probe as probe

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.errors import ConfigError

SETTINGS = dict(num_envs=1, n_steps=200, total_steps=400, seed=0, eval_episodes=0)


def test_flipped_share_counts_steps_past_a_quarter_turn():
    assert probe.flipped_share(np.array([0.0, 1.0, 2.0, -2.0, 3.1])) == pytest.approx(0.6)
    assert probe.flipped_share(np.array([1.5, -1.5])) == 0.0  # just under pi/2


def test_the_hinge_angle_is_wrapped_to_a_turn_from_upright():
    """rooty winds on past pi: a full somersault (2 pi) is upright again, 3.4 is on its back
    (0.12 from pi, the other side), -4 is 2.28 the other way."""
    wrapped = probe.wrap(np.array([0.0, 2 * np.pi, 3.4, -4.0, 4 * np.pi + 0.5]))
    assert wrapped == pytest.approx([0.0, 0.0, 3.4 - 2 * np.pi, 2 * np.pi - 4.0, 0.5])
    assert probe.flipped_share(probe.wrap(np.array([2 * np.pi, 3.4, -4.0]))) == pytest.approx(2 / 3)


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"])
def test_the_pitch_read_from_the_observation_is_the_torso_hinge(env_id):
    """The probe's one assumption about the envs: observation[1] is qpos[2], rooty."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        assert obs[probe.PITCH_INDEX] == pytest.approx(env.unwrapped.data.qpos[2])
    env.close()


def test_runs_are_grouped_by_gait_with_the_mean_of_their_final_returns():
    probes = [
        dict(flipped=1.0, final_return=1800.0),
        dict(flipped=0.0, final_return=4000.0),
        dict(flipped=0.9, final_return=1600.0),
        dict(flipped=0.5, final_return=None),  # half the steps: still upright; no summary
    ]
    assert probe.by_gait(probes) == {"upright": (2, 4000.0), "on its back": (2, 1700.0)}
    assert probe.by_gait(probes[:1]) == {"upright": (0, None), "on its back": (1, 1800.0)}


def test_the_probe_plays_a_run_and_reports_its_pitch(tmp_path, capsys):
    train(default_config("ppo", "HalfCheetah-v5", **SETTINGS), tmp_path)
    out = probe.probe(tmp_path, steps=120, skip=20)
    assert out["length"] == 120 and 0 <= out["flipped"] <= 1 and out["mean_abs_pitch"] >= 0
    assert out["final_return"] is None  # eval_episodes=0: no final evaluation
    probe.main([str(tmp_path), "--steps", "60", "--skip", "10"])
    printed = capsys.readouterr().out
    assert f"| {tmp_path.name} | 60 |" in printed
    assert "| 1 | - |" in printed and "| 0 | - |" in printed  # one gait, no final return


def test_an_env_without_a_torso_pitch_is_refused(tmp_path):
    train(default_config("ppo", "Pendulum-v1", **SETTINGS), tmp_path)
    with pytest.raises(ConfigError, match="pitch is read for HalfCheetah"):
        probe.probe(tmp_path, steps=10)
