import pytest
import torch

from rlhf_from_scratch.envs.policies import NatureCNN, scaled_frames
from rlhf_from_scratch.preferences.reward_model import PreferenceCNN


@pytest.mark.parametrize(
    "make", [lambda: NatureCNN(4), lambda: PreferenceCNN((4, 84, 84), dropout=0.5).eval()]
)
def test_the_cnns_compute_the_same_function_in_channels_last_order(make):
    """Weights and frames are stored channels-last for speed: the sums must be those of the
    plain order, layer by layer."""
    torch.manual_seed(0)
    cnn = make()
    frames = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    x = frames.float() / 255.0
    for layer in cnn.net:
        if isinstance(layer, torch.nn.Conv2d):
            x = torch.nn.functional.conv2d(x, layer.weight.contiguous(), layer.bias, layer.stride)
        else:
            x = layer(x.contiguous())
    assert cnn.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(cnn(frames), x, atol=1e-5)
    as_float = frames.float()
    cnn(as_float)  # float frames given by a caller are read, never scaled in place
    assert torch.equal(as_float, frames.float())


@pytest.mark.parametrize("order", [torch.contiguous_format, torch.channels_last])
def test_scaled_frames_are_a_channels_last_copy_divided_by_255(order):
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    scaled = scaled_frames(frames.contiguous(memory_format=order))
    assert scaled.dtype == torch.float32 and scaled.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(scaled, frames.float() / 255.0)  # bit for bit
    as_float = frames.float().contiguous(memory_format=order)
    assert torch.equal(scaled_frames(as_float), scaled)
    assert torch.equal(as_float, frames.float())  # read, not scaled in place
