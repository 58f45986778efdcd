"""The LM tests use tiny models, which run fastest (and steadiest on a shared machine) on
one thread; the previous thread count is restored after each test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
