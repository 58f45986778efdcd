"""scripts/action_bounds_probe.py: where a policy's mean action lies against the bounds."""

import action_bounds_probe as probe
import pytest
import torch

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.utils.errors import ConfigError

SETTINGS = dict(num_envs=1, n_steps=200, total_steps=400, seed=0, eval_episodes=0)


@pytest.mark.parametrize("reward", ["env", "preferences"])
def test_the_probe_measures_the_mean_action_against_the_bounds(reward, tmp_path):
    extra = dict(labels=6) if reward == "preferences" else {}
    train(default_config("ppo", "Pendulum-v1", reward=reward, **SETTINGS, **extra), tmp_path)
    out = probe.probe(tmp_path, steps=50, sampled=40)
    assert out["length"] == 50 and 0 <= out["past_bounds"] <= 1
    assert ("raw_minus_clipped" in out) == (reward == "preferences")


def test_a_policy_pushed_past_the_bounds_is_seen_there(tmp_path):
    """Pendulum's torque bound is 2: a mean moved 100 out is past it at every step."""
    train(
        default_config("ppo", "Pendulum-v1", reward="preferences", labels=6, **SETTINGS), tmp_path
    )
    checkpoint = sorted((tmp_path / "checkpoints").glob("*.pt"))[-1]
    state = torch.load(checkpoint, weights_only=False)
    state["policy"]["actor_head.bias"] += 100.0  # the Gaussian's mean is the head's output
    torch.save(state, checkpoint)
    out = probe.probe(tmp_path, steps=20, sampled=20)
    assert out["past_bounds"] == 1.0 and out["mean_abs_mu"] > 10
    assert out["sampled_past_bounds"] == 1.0


def test_an_atari_or_discrete_run_is_refused(tmp_path):
    train(default_config("ppo", "CartPole-v1", **SETTINGS), tmp_path)
    with pytest.raises(ConfigError, match="discrete"):
        probe.probe(tmp_path, steps=10)
