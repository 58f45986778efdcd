"""Each of PPO, RLOO (REINFORCE, leave-one-out), A2C and TRPO, unchanged from algos/, raises
the reward of a tiny task through the LM rollout: a 1-layer GPT learns to write the letter
'a' (the reward is its share of the response). Same code path as `rlhf lm rlhf`, minus the
checkpoints."""

from dataclasses import replace

import pytest
import torch
from rlhf_helpers import TOK, count_a, tiny_policy

from rlhf_from_scratch.lm.rlhf import algo_config
from rlhf_from_scratch.lm.rollout import rollout

# Larger steps than the LM defaults: the tiny task must move within a handful of updates.
SETTINGS = {
    "ppo": dict(lr=1e-2),
    "reinforce": dict(lr=3e-2),
    "a2c": dict(lr=3e-2),
    "trpo": dict(max_kl=0.1),
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_algorithm_raises_the_reward_on_the_lm(name):
    policy, reference = tiny_policy(second_order=name == "trpo")
    policy.temperature = 1.0
    algo_class, cfg = algo_config(name, None)
    algo = algo_class(policy, replace(cfg, **SETTINGS[name]), 15)
    generator, update_rng = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    history = []
    for _ in range(15):
        ro = rollout(
            policy, reference, count_a, TOK, ["ab", "ba", "x", "yy"], 4, 0.0, algo.estimate, 8,
            None, generator,
        )  # fmt: skip
        history.append(float(ro.score.mean()))
        algo.update(ro.batch, update_rng)
    first, last = sum(history[:3]) / 3, sum(history[-3:]) / 3
    assert last > first + 0.1, (name, history)
