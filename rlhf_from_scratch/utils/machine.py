"""What machine a benchmark ran on: written beside every committed number."""

from __future__ import annotations

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
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
