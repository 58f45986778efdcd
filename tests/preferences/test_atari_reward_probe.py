"""scripts/atari_reward_probe.py plays an Atari preference run's policy and scores its steps."""

import atari_reward_probe as probe
import numpy as np
import pytest

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.errors import ConfigError


def test_steps_before_an_event_are_marked():
    events = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1, 0], dtype=bool)
    assert probe.before(events, 2).tolist() == [0, 0, 1, 1, 0, 0, 0, 1, 1, 0]
    assert probe.before(events, 5)[:4].all()  # the window stops at the first step


@pytest.mark.parametrize("actions", [False, True])
def test_the_probe_scores_every_action_on_the_played_frames(actions, tmp_path):
    config = default_config(
        "ppo", "Pong-v5", num_envs=2, n_steps=32, total_steps=64, seed=0, reward="preferences",
        labels=8, segment_steps=8, pool_size=20, eval_episodes=0, rm_actions=actions,
    )  # fmt: skip
    train(config, tmp_path)
    played = probe.play(tmp_path, steps=40, seed=1)
    assert played["every_action"].shape == (40, 6) and played["actions"].shape == (40,)
    assert played["names"].tolist() == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    # the r_hat of the action taken is that action's column
    taken = played["every_action"][np.arange(40), played["actions"]]
    assert np.allclose(taken, played["r_hat"], atol=1e-5)
    spread = np.ptp(played["every_action"], axis=1)  # across actions, frame by frame
    assert (spread.max() > 1e-4) == actions  # r_hat of the frames alone: every action the same


def test_a_run_that_is_not_atari_is_refused(tmp_path):
    settings = dict(num_envs=1, n_steps=200, total_steps=200, seed=0, eval_episodes=0)
    train(
        default_config("ppo", "Pendulum-v1", reward="preferences", labels=4, **settings), tmp_path
    )
    with pytest.raises(ConfigError, match="not an Atari game"):
        probe.play(tmp_path, steps=10, seed=0)
