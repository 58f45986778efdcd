"""The GPU benchmark runs end to end on CPU in --smoke mode (so it cannot crash on the GPU
machine for a reason a CPU could have found)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_lm_gpu_smoke(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(
        [sys.executable, "scripts/bench_lm_gpu.py", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    report = json.loads((tmp_path / "lm_gpu.json").read_text())
    assert report["smoke"] and report["results"][0]["tokens_per_s"] > 0
    assert report["flops_per_token"] > 6 * report["params_non_embedding"]
    assert "MFU" in (tmp_path / "lm_gpu.md").read_text()
