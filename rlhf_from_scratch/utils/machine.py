"""What machine a benchmark ran on: written beside every committed number."""

from __future__ import annotations

import ctypes
import os
import platform
import time
from importlib import metadata
from pathlib import Path

import torch


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def simd_flags() -> list[str]:
    """The CPU's vector instruction sets that change torch's float results (kernels differ)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [
                    f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags
                ]
    except OSError:
        pass
    return []


def software_versions() -> dict:
    """Python and the libraries a run's numbers depend on (None where not installed)."""
    versions = {"python": platform.python_version()}
    for package in ("torch", "numpy", "gymnasium", "mujoco", "ale-py"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
_freed_memory_kept = False


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep the memory a process frees, for the next tensor of that size.

    By default every block over 32 MB gets its own mmap and goes back to the system when freed,
    so each large tensor a training step makes (one side of a reward-model minibatch of Atari
    clips: 90 MB of floats) starts on fresh pages, faulted in one 4 KB page at a time: on the
    2-core machine a quarter of the Pong preference run's CPU time was the kernel's (200,000
    page faults a second). With large blocks taken from the heap and the heap never trimmed,
    the reward model's update ran 1.65x faster on 1 thread and 1.3x on 2, PPO's ~1.04x, the
    Pong run 72 -> 91 steps/s (benchmarks/atari/cpu_overheads). The sums are the same; what it
    costs is that a process keeps its peak memory until it ends.

    Process-wide, called by `train` (and the Atari benchmarks); RLHF_KEEP_FREED_MEMORY=0 turns
    it off. True where it took effect: Linux with glibc, not where mallopt is missing or refuses.
    """
    global _freed_memory_kept
    if os.environ.get("RLHF_KEEP_FREED_MEMORY", "1") == "0" or platform.system() != "Linux":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # no block gets its own mmap; the heap's free top is returned only past 2 GB
    kept = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    _freed_memory_kept = _freed_memory_kept or kept
    return kept


def machine_info() -> dict:
    """CPU, cores, GPU (if any), the software versions and the date, for a benchmark's header
    and every run's summary.json: a seed gives the same run again only on the same CPU kind and
    software (the first rollout of a MuJoCo run already differs between AMD EPYC machines with
    other stacks, benchmarks/preferences/adaptive_l2)."""
    info = {
        "cpu": cpu_name(),
        "simd": simd_flags(),
        "cores": os.cpu_count(),
        **software_versions(),
        "torch_threads": torch.get_num_threads(),
        "freed_memory_kept": _freed_memory_kept,  # keep_freed_memory: same sums, faster on CPU
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
