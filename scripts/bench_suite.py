"""Run many `rlhf train` jobs in parallel, each resumable, inside a wall-clock deadline.

    python scripts/bench_suite.py --root runs/bench --jobs 12 --deadline 540 \
        ppo:Hopper-v5:1 ppo:Hopper-v5:2 trpo:HalfCheetah-v5:1 reinforce:InvertedPendulum-v5:1:300000

A job is ALGO:ENV:SEED[:TOTAL_STEPS[:extra flags separated by commas]]. Its run directory is
ROOT/ALGO-ENV-sSEED. A job whose directory holds a config is resumed from its last checkpoint;
one with a summary.json is done and skipped. At the deadline running jobs are stopped (their
checkpoints are atomic), so calling the script again continues where it stopped: a 1M-step
benchmark can span several shorter machine sessions. Prints one status line per job.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def parse_job(spec: str) -> dict:
    parts = spec.split(":")
    if len(parts) < 3:
        sys.exit(f"bad job '{spec}': expected ALGO:ENV:SEED[:TOTAL_STEPS[:FLAGS]]")
    job = {"algo": parts[0], "env": parts[1], "seed": int(parts[2])}
    job["total_steps"] = int(float(parts[3])) if len(parts) > 3 and parts[3] else None
    job["flags"] = parts[4].split(",") if len(parts) > 4 and parts[4] else []
    job["name"] = f"{job['algo']}-{job['env'].replace('/', '_')}-s{job['seed']}"
    if job["flags"]:  # runs of one env that differ in flags get their own directories
        job["name"] += "-" + "-".join(f.lstrip("-") for f in job["flags"]).replace("/", "_")
    return job


def command(job: dict, run_dir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "rlhf_from_scratch", "train", "--algo", job["algo"]]
    cmd += ["--env", job["env"], "--seed", str(job["seed"]), "--run-dir", str(run_dir), "--quiet"]
    if job["total_steps"]:
        cmd += ["--total-steps", str(job["total_steps"])]
    cmd += job["flags"]
    if (run_dir / "config.json").exists():
        cmd.append("--resume")
    return cmd


def last_step(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    lines = path.read_text().strip().splitlines()
    try:
        return json.loads(lines[-1])["step"] if lines else 0
    except json.JSONDecodeError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("jobs_spec", nargs="+", metavar="JOB")
    parser.add_argument("--root", default="runs/bench")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--deadline", type=float, default=float("inf"), help="seconds")
    args = parser.parse_args()
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    pending = [parse_job(s) for s in args.jobs_spec]
    pending = [j for j in pending if not (root / j["name"] / "summary.json").exists()]
    running: dict[str, tuple[subprocess.Popen, dict]] = {}
    start = time.time()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    while pending or running:
        while pending and len(running) < args.jobs:
            job = pending.pop(0)
            run_dir = root / job["name"]
            log = open(root / f"{job['name']}.log", "a")  # noqa: SIM115
            proc = subprocess.Popen(command(job, run_dir), stdout=log, stderr=log, env=env)
            running[job["name"]] = (proc, job)
        for name, (proc, _job) in list(running.items()):
            if proc.poll() is not None:
                print(
                    f"{name}: exited {proc.returncode} at step {last_step(root / name)}", flush=True
                )
                del running[name]
        if time.time() - start > args.deadline:
            for name, (proc, _job) in running.items():
                proc.terminate()
                proc.wait()
                print(
                    f"{name}: stopped at the deadline at step {last_step(root / name)}", flush=True
                )
            break
        time.sleep(2)
    print(f"done in {time.time() - start:.0f} s; not started: {[j['name'] for j in pending]}")


if __name__ == "__main__":
    main()
