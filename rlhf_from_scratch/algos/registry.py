"""Name -> (algorithm class, config dataclass), for the command line and the worlds."""

from __future__ import annotations

from rlhf_from_scratch.algos.a2c import A2C, A2CConfig
from rlhf_from_scratch.algos.ppo import PPO, PPOConfig
from rlhf_from_scratch.algos.reinforce import Reinforce, ReinforceConfig
from rlhf_from_scratch.algos.trpo import TRPO, TRPOConfig
from rlhf_from_scratch.utils.errors import unknown

ALGOS = {
    "reinforce": (Reinforce, ReinforceConfig),
    "a2c": (A2C, A2CConfig),
    "trpo": (TRPO, TRPOConfig),
    "ppo": (PPO, PPOConfig),
}


def get_algo(name: str):
    if name not in ALGOS:
        raise unknown("algorithm", name, ALGOS)
    return ALGOS[name]
