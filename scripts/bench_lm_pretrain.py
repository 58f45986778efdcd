"""Benchmark: CPU pretraining of the default GPT on the built-in corpus.

    python scripts/bench_lm_pretrain.py [--threads 1] [--run-dir runs/bench-lm-pretrain]

Runs `rlhf lm pretrain` (the default `small` config) as a subprocess, times it, and writes
benchmarks/lm_pretrain_cpu.md and .json: the command, the machine (cores, CPU, torch version,
load average, which says whether the cores were shared), the date, and the numbers: wall
time, final validation loss against the corpus's entropy rate, tokens/s, sample fluency.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default=str(ROOT / "runs" / "bench-lm-pretrain"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=str(ROOT / "benchmarks"), help="folder for the report")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more flags")
    args = parser.parse_args()

    from rlhf_from_scratch.utils.machine import machine_info

    info = machine_info()
    shutil.rmtree(args.run_dir, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "rlhf_from_scratch",
        "lm",
        "pretrain",
        "--device",
        "cpu",
        "--run-dir",
        args.run_dir,
        "--no-progress",
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += args.extra
    shown = "rlhf " + " ".join(cmd[3:])
    load_before = os.getloadavg()
    start = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.time() - start
    load_after = os.getloadavg()
    summary = json.loads((Path(args.run_dir) / "summary.json").read_text())
    config = json.loads((Path(args.run_dir) / "config.json").read_text())
    rows = [json.loads(line) for line in (Path(args.run_dir) / "metrics.jsonl").open()]
    curve = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    result = {
        "command": shown,
        "machine": {
            **info,
            "threads": args.threads or info["torch_threads"],
            "load_average_before": load_before,
            "load_average_after": load_after,
        },
        "date": info["date"],
        "config": config,
        "wall_time_s": wall,
        "train_time_s": summary["wall_time_s"],
        "val_loss": summary["val_loss"],
        "entropy_rate": summary["entropy_rate"],
        "gap_nats_per_token": summary["gap_nats_per_token"],
        "tokens": summary["tokens"],
        "tokens_per_s": summary["tokens"] / summary["wall_time_s"],
        "params": summary["params"],
        "sample_fluency": summary.get("sample_fluency"),
        "sample_grammatical": summary.get("sample_grammatical"),
        "samples": summary.get("samples", [])[:3],
        "val_curve": curve,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lm_pretrain_cpu.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    lines = [
        "# CPU pretraining of the default GPT (`small`) on the built-in corpus",
        "",
        f"Command: `{shown}`  ",
        f"Made by `python scripts/bench_lm_pretrain.py` on {result['date']}.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), torch {m['torch']}, {m['threads']} torch "
        f"thread(s); load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        "(a load above the thread count means the cores were shared with other work).",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| parameters (non-embedding) | {result['params']:,} |",
        f"| steps x batch x context | {config['steps']} x {config['batch_size']} x "
        f"{result['tokens'] // (config['steps'] * config['batch_size'])} |",
        f"| wall time (whole command) | {wall:.0f} s |",
        f"| training loop time | {result['train_time_s']:.0f} s |",
        f"| tokens/s | {result['tokens_per_s']:,.0f} |",
        f"| final validation loss | {result['val_loss']:.4f} nats/token |",
        f"| corpus entropy rate (upper bound) | {result['entropy_rate']:.4f} nats/token |",
        f"| gap | {result['gap_nats_per_token']:.4f} nats/token |",
        f"| sample fluency (sentences that parse) | {result['sample_fluency']:.3f} |",
        f"| samples fully grammatical | {result['sample_grammatical']:.3f} |",
        "",
        "Validation loss during training: " + ", ".join(f"{s}: {v:.3f}" for s, v in curve),
        "",
        "Samples (temperature 1):",
        "",
        *[f"- `{s}`" for s in result["samples"]],
        "",
    ]
    (out / "lm_pretrain_cpu.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
