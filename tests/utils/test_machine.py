import os
import platform
import subprocess
import sys

import pytest

# In a fresh process, so that this one's allocator keeps its settings: twenty 64 MB float
# tensors made and freed one after another; prints what keep_freed_memory returned, what
# machine_info records, and the page faults of the last ten (the first few grow the heap).
ALLOCATE = """
import resource, sys, torch
from rlhf_from_scratch.utils.machine import keep_freed_memory, machine_info
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
frames = torch.zeros(16 * 2**20, dtype=torch.uint8)
for i in range(20):
    if i == 10:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    floats = frames.to(torch.float32)
    del floats
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(kept, machine_info()["freed_memory_kept"], faults)
"""


def allocate(mode: str, **env: str) -> tuple[str, str, int]:
    out = subprocess.run(
        [sys.executable, "-c", ALLOCATE, mode],
        env={**os.environ, "RLHF_KEEP_FREED_MEMORY": "1", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1], int(out[2])


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_kept_memory_is_reused_instead_of_faulted_in_again():
    kept, recorded, kept_faults = allocate("keep")
    assert (kept, recorded) == ("True", "True")
    default, recorded, default_faults = allocate("default")
    assert (default, recorded) == ("False", "False")
    # 64 MB is 16,384 pages: by default each new tensor faults all of them in again; kept, the
    # last ten reuse the pages of the first ones (one or two of them may still grow the heap)
    assert default_faults > 10 * 16_384 * 0.9
    assert kept_faults <= 2 * 16_384


def test_keep_freed_memory_can_be_turned_off():
    assert allocate("keep", RLHF_KEEP_FREED_MEMORY="0")[:2] == ("False", "False")
