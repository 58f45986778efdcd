"""Shared pieces of the RLHF tests: a tiny LM actor-critic and a stand-in reward."""

from dataclasses import replace

import torch

from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.policy import LMActorCritic
from rlhf_from_scratch.lm.tokenizer import Tokenizer

TOK = Tokenizer("char")


def tiny_policy(seed: int = 0, second_order: bool = False):
    torch.manual_seed(seed)
    cfg = GPTConfig(block_size=48, vocab_size=TOK.vocab_size, n_layer=1, n_head=2, n_embd=32)
    actor, reference = GPT(cfg), GPT(cfg)
    reference.load_state_dict(actor.state_dict())
    critic = GPT(replace(cfg, scalar_head="value"))
    return LMActorCritic(actor, critic, temperature=0.7, second_order=second_order), reference


def count_a(tokens, mask):
    """A stand-in reward: the share of the letter 'a' among the last 8 tokens."""
    a = TOK.encode("a")[0]
    return ((tokens[:, -8:] == a) & (mask[:, -8:] > 0)).float().mean(1)
