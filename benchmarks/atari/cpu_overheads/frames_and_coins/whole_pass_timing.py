"""Three ways to turn uint8 frames into the CNNs' float input, timed inside a whole forward
and backward pass (train mode) of the reward CNN (800 frames) and the Nature CNN (256 frames):

    python benchmarks/atari/cpu_overheads/frames_and_coins/whole_pass_timing.py

old: convert and reorder to channels-last in one step (the code before 980124c); new: reorder
the bytes, then convert (scaled_frames since 980124c); plain: floats in the plain order, the
convolutions left to reorder. Median of 5 timed rounds after one untimed, rounds interleaved;
2 torch threads, freed memory kept as `train` keeps it. Also checks that the outputs agree.
"""

import time

import torch

from rlhf_from_scratch.envs.policies import NatureCNN
from rlhf_from_scratch.preferences.reward_model import PreferenceCNN
from rlhf_from_scratch.utils.machine import keep_freed_memory

keep_freed_memory()
torch.set_num_threads(2)
torch.manual_seed(0)
CL = torch.channels_last
PREPARE = {
    "old": lambda o: o.to(torch.float32, memory_format=CL, copy=True).div_(255.0),
    "new": lambda o: o.contiguous(memory_format=CL).to(torch.float32, copy=True).div_(255.0),
    "plain": lambda o: o.to(torch.float32).div_(255.0),
}
for name, net, batch in (
    ("reward CNN", PreferenceCNN((4, 84, 84), 0.5).train(), 800),
    ("Nature CNN", NatureCNN(4), 256),
):
    frames = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)
    seconds: dict[str, list[float]] = {way: [] for way in PREPARE}
    outputs = {}
    for _ in range(6):
        for way, prepare in PREPARE.items():
            torch.manual_seed(1)  # the same dropout masks for the three
            start = time.perf_counter()
            out = net.net(prepare(frames))
            out.sum().backward()
            seconds[way].append(time.perf_counter() - start)
            outputs[way] = out.detach()
    medians = {way: f"{sorted(s[1:])[2] * 1000:.0f} ms" for way, s in seconds.items()}
    same = torch.equal(outputs["new"], outputs["old"])
    plain_gap = (outputs["plain"] - outputs["old"]).abs().max().item()
    print(
        f"{name}, {batch} frames: {medians}; new == old: {same}; plain differs by {plain_gap:.1e}"
    )
