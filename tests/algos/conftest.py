"""A tiny categorical policy (with a separate value net) and batches drawn from it."""

import pytest
import torch

from rlhf_from_scratch.algos.toy import TinyPolicy, tiny_batch


@pytest.fixture
def tiny():
    """(TinyPolicy, make_batch): the policy class and a batch sampler for algorithm tests."""
    torch.manual_seed(0)
    return TinyPolicy, tiny_batch
