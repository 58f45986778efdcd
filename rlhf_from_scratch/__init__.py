"""rlhf_from_scratch: policy-gradient RL written once, used on robots, games and a GPT."""

__version__ = "0.1.0"
