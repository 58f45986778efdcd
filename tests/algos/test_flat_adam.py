"""FlatAdam: torch's Adam arithmetic over one flat buffer; what it refuses; older checkpoints."""

import io

import pytest
import torch

from rlhf_from_scratch.algos.common import FlatAdam, set_lr
from rlhf_from_scratch.utils.errors import ConfigError


def net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))


def train_steps(model, optimizer, steps, data_seed=1, zero=None):
    generator = torch.Generator().manual_seed(data_seed)
    for i in range(steps):
        x = torch.randn(16, 5, generator=generator)
        (zero or optimizer.zero_grad)()
        model(x).pow(2).mean().backward()
        if i == steps // 2:
            set_lr(optimizer, 3e-3)  # a changed learning rate reaches both
        optimizer.step()


def test_flat_adam_follows_torchs_adam():
    ours, theirs = net(), net()
    flat = FlatAdam(list(ours.parameters()), lr=1e-2, eps=1e-5)
    torch_adam = torch.optim.Adam(theirs.parameters(), lr=1e-2, eps=1e-5)
    train_steps(ours, flat, 30)
    train_steps(theirs, torch_adam, 30)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    moved = sum((a - b).abs().sum() for a, b in zip(ours.parameters(), net().parameters()))
    assert moved > 0.1  # the parameters did move (the comparison above is not vacuous)


def test_gradients_land_in_the_flat_buffer_and_clip_is_global():
    model = net()
    flat = FlatAdam(list(model.parameters()), lr=1e-2)
    model(torch.randn(4, 5)).sum().backward()
    per_tensor = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert per_tensor > 0
    assert torch.allclose(torch.linalg.vector_norm(flat.flat.grad), per_tensor)
    norm = flat.clip_grad_norm(0.5 * per_tensor.item())
    assert torch.allclose(norm, per_tensor)
    after = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert after.item() == pytest.approx(0.5 * per_tensor.item(), rel=1e-4)
    flat.zero_grad()
    assert all(p.grad.abs().sum() == 0 for p in model.parameters())


def test_a_replaced_parameter_or_gradient_is_refused():
    model = net()
    flat = FlatAdam(list(model.parameters()), lr=1e-2)
    model(torch.randn(4, 5)).sum().backward()
    model.zero_grad()  # the module's own zero_grad sets the gradients to None
    model(torch.randn(4, 5)).sum().backward()  # new gradient tensors, outside the buffer
    with pytest.raises(RuntimeError, match="replaced after the optimiser was built"):
        flat.step()
    other = net()
    flat = FlatAdam(list(other.parameters()), lr=1e-2)
    other[0].weight.data = torch.zeros(8, 5)
    with pytest.raises(RuntimeError, match="1 parameter"):
        flat.step()


def test_bad_parameter_lists_are_refused():
    model = net()
    with pytest.raises(ConfigError, match="no parameters"):
        FlatAdam([], lr=1e-3)
    with pytest.raises(ConfigError, match="listed twice"):
        FlatAdam([model[0].weight, model[0].weight], lr=1e-3)
    with pytest.raises(ConfigError, match="one dtype"):
        FlatAdam([model[0].weight, torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))], 1e-3)


def test_state_dict_round_trip_and_an_older_torch_adam_checkpoint():
    # Reference: torch's Adam for 20 steps, its state saved after 10.
    reference = net()
    torch_adam = torch.optim.Adam(reference.parameters(), lr=1e-2)
    train_steps(reference, torch_adam, 10)
    saved = io.BytesIO()  # as a checkpoint file holds it
    torch.save({"model": reference.state_dict(), "optimizer": torch_adam.state_dict()}, saved)
    saved.seek(0)
    old_checkpoint = torch.load(saved)
    train_steps(reference, torch_adam, 10, data_seed=2)

    # An earlier version's run (torch.optim.Adam state) resumed with FlatAdam.
    resumed = net(seed=5)
    resumed.load_state_dict(old_checkpoint["model"])
    flat = FlatAdam(list(resumed.parameters()), lr=1e-2)
    flat.load_state_dict(old_checkpoint["optimizer"])
    assert flat.steps == 10
    train_steps(resumed, flat, 10, data_seed=2)
    for a, b in zip(resumed.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)

    # FlatAdam's own state round-trips; a state for another network is refused.
    copy = net(seed=5)
    copy.load_state_dict(resumed.state_dict())
    again = FlatAdam(list(copy.parameters()), lr=1.0)
    again.load_state_dict(flat.state_dict())
    train_steps(copy, again, 3, data_seed=3)
    train_steps(resumed, flat, 3, data_seed=3)
    for a, b in zip(copy.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    bigger = torch.nn.Linear(5, 40)
    with pytest.raises(ConfigError, match="different network"):
        FlatAdam(list(bigger.parameters()), lr=1e-3).load_state_dict(flat.state_dict())
