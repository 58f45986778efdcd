"""Turn benchmark run directories into benchmarks/{mujoco,atari,throughput,lm_gpu}/README.md + PNGs.

    python scripts/report_benchmarks.py --src /path/to/bench      # copy runs in, then report
    python scripts/report_benchmarks.py                           # re-report benchmarks/*/runs

--src is a folder laid out as the device runs left it: SRC/mujoco/RUN, SRC/atari/RUN,
SRC/throughput/throughput.{json,md}, SRC/lm_gpu/* (optional). From each run directory only
config.json, summary.json and metrics.jsonl (as metrics.jsonl.gz) are copied (into
benchmarks/FAMILY/runs/RUN/), so
the tables and figures can be regenerated from the repository alone. A run without a
summary.json did not reach its step budget: it is reported as unfinished with its last
`recent_return` and the step it reached. benchmarks/device_sessions.json (written by hand
after the device sessions) supplies the machine, the date and what code ran when.
Figures: `python -m rlhf_from_scratch plot RUN... --metric episodic_return` (seeds averaged).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from bench_throughput import results_table  # noqa: E402  (a sibling script: the same table)

from rlhf_from_scratch.utils.rundir import compress_metrics, read_metrics  # noqa: E402

KEEP = ("config.json", "summary.json", "metrics.jsonl")

# Published 1M-step returns (see shared/REFERENCES.md) and the project's targets.
PUBLISHED = {
    ("ppo", "Hopper-v5"): "CleanRL 2052; SB3 zoo tuned 2410",
    ("ppo", "HalfCheetah-v5"): "CleanRL 2906; SB3 zoo tuned 5819",
    ("ppo", "Walker2d-v5"): "CleanRL 2891; SB3 zoo tuned 3479",
    ("trpo", "Hopper-v5"): "Baselines trpo_mpi 1913; sb3-contrib 3372",
    ("trpo", "HalfCheetah-v5"): "Baselines trpo_mpi 1290; sb3-contrib 1803",
    ("a2c", "Hopper-v5"): "SB3 zoo A2C 734",
    ("a2c", "HalfCheetah-v5"): "SB3 zoo A2C 3041",
    ("reinforce", "InvertedPendulum-v5"): "PPO at 1M steps: Baselines ppo2 809, CleanRL 951 "
    "(no published REINFORCE figure; not like for like)",
}
TARGETS = {
    ("ppo", "Hopper-v5"): 2400,
    ("ppo", "HalfCheetah-v5"): 3000,
    ("ppo", "Walker2d-v5"): 3400,
}
ALGO_ORDER = ["ppo", "trpo", "a2c", "reinforce"]


def run_info(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    rows = read_metrics(run)
    last = rows[-1] if rows else {}
    recent = [r["recent_return"] for r in rows if "recent_return" in r]
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    nan_rows = sum(any(isinstance(v, float) and v != v for v in r.values()) for r in rows)
    return {
        "name": run.name,
        "dir": run,
        "config": config,
        "summary": summary,
        "step": (summary or {}).get("steps", last.get("step", 0)),
        "recent_return": recent[-1] if recent else None,
        "wall_seconds": (summary or {}).get("wall_seconds", last.get("wall_seconds")),
        "steps_per_second": (summary or {}).get("steps_per_second", last.get("steps_per_second")),
        "nan_rows": nan_rows,
    }


def copy_runs(src: Path, dst: Path, max_rows: int) -> None:
    """Copy KEEP; a metrics.jsonl longer than max_rows keeps every k-th row, the last one and
    every row with an episodic_return (A2C logs every 32 steps: 31k rows, 9 MB); thinned.json
    beside it says so."""
    for run in sorted(p for p in src.iterdir() if (p / "config.json").exists()):
        out = dst / run.name
        out.mkdir(parents=True, exist_ok=True)
        for name in KEEP:
            if (run / name).exists():
                shutil.copy2(run / name, out / name)
        lines = (
            (out / "metrics.jsonl").read_text().splitlines()
            if (out / "metrics.jsonl").exists()
            else []
        )
        if max_rows and len(lines) > max_rows:
            every = -(-len(lines) // max_rows)
            kept = [
                line
                for i, line in enumerate(lines)
                if i % every == 0 or i == len(lines) - 1 or '"episodic_return"' in line
            ]
            (out / "metrics.jsonl").write_text("\n".join(kept) + "\n")
            note = {"original_rows": len(lines), "kept_every": every, "kept_rows": len(kept)}
            (out / "thinned.json").write_text(json.dumps(note) + "\n")
        if (out / "metrics.jsonl").exists():
            compress_metrics(out)


def mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{statistics.mean(values):.0f} ± {statistics.pstdev(values):.0f}"


def per_seed(values: list[float], fmt: str) -> str:
    """Each seed's value, in seed order; past eight seeds the range, which a row can still hold."""
    if len(values) > 8:
        return f"{fmt.format(min(values))} to {fmt.format(max(values))} ({len(values)} runs)"
    return " / ".join(fmt.format(v) for v in values)


def run_infos(runs_dir: Path) -> list[dict]:
    """run_info of every run directory in runs_dir, by algorithm, env and seed (2 before 10)."""
    infos = [run_info(p) for p in runs_dir.iterdir() if (p / "config.json").exists()]
    return sorted(
        infos, key=lambda i: (*(i["config"][k] for k in ("algo", "env", "seed")), i["name"])
    )


def fmt_wall(seconds: list[float]) -> str:
    minutes = [s / 60 for s in seconds if s is not None]
    return per_seed(minutes, "{:.1f} min") if minutes else "n/a"


def plot(run_dirs: list[Path], out: Path, title: str) -> str | None:
    cmd = [sys.executable, "-m", "rlhf_from_scratch", "plot", *map(str, run_dirs)]
    cmd += ["--out", str(out), "--metric", "episodic_return", "--title", title]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"plot failed for {out}: {result.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return out.name


def header(meta: dict) -> list[str]:
    m = meta.get("machine", {})
    lines = [
        f"- machine: {m.get('cpu', '?')}; GPU {m.get('gpu', '?')}",
        f"- software: {m.get('software', '?')}",
        f"- date: {m.get('date', '?')}",
    ]
    if meta.get("concurrency"):
        lines.append(f"- load: {meta['concurrency']}")
    return lines


def notes(meta: dict, family: str) -> list[str]:
    items = meta.get("notes", {}).get(family, [])
    return ["", "## Notes on the runs", ""] + [f"- {n}" for n in items] if items else []


def sessions(meta: dict) -> list[str]:
    if not meta.get("sessions"):
        return []
    lines = ["", "## Device sessions (what code produced which steps)", ""]
    lines += ["| session | UTC | code | what happened |", "|---|---|---|---|"]
    for s in meta["sessions"]:
        lines.append(f"| {s['name']} | {s['utc']} | {s['code']} | {s['what']} |")
    return lines


def train_command(info: dict) -> str:
    c = info["config"]
    cmd = (
        f"python -m rlhf_from_scratch train --algo {c['algo']} --env {c['env']} --seed {c['seed']}"
    )
    if c["total_steps"] != 1_000_000 or c["algo"] == "reinforce":
        cmd += f" --total-steps {c['total_steps']}"
    return cmd + f" --run-dir runs/{info['name']} --quiet [--resume]"


def report_mujoco(bench: Path, meta: dict) -> list[dict]:
    runs_dir = bench / "mujoco" / "runs"
    infos = run_infos(runs_dir)
    groups: dict[tuple[str, str], list[dict]] = {}
    for info in infos:
        groups.setdefault((info["config"]["algo"], info["config"]["env"]), []).append(info)
    lines = ["# MuJoCo benchmarks (Gymnasium v5)", ""] + header(meta)
    lines += [
        f"- suite command: `{meta.get('suite_command', '?')}`",
        "- each run's own command is listed below; every run is resumable and was spread over "
        "several ~8-minute device sessions (see the last section)",
        "",
        "Final return = mean ± std over seeds of each seed's 10-episode deterministic evaluation "
        "(summary.json `eval_return_mean`). A run that did not reach its step budget has no "
        "evaluation: its row is marked **UNFINISHED** and shows the last `recent_return` "
        "(mean training-episode return over the last episodes) at the step it reached; such a "
        "number is not comparable with a published 1M-step figure and no target is claimed "
        "for it. Steps/s is the run's own average over its training wall time, with 12-13 "
        "processes sharing 16 cores.",
    ]
    for algo in ALGO_ORDER:
        keys = sorted(k for k in groups if k[0] == algo)
        if not keys:
            continue
        lines += ["", f"## {algo.upper()}", ""]
        lines += [
            "| env | seeds | status | return | steps/s | wall time | published (1M steps) "
            "| target |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key in keys:
            runs = groups[key]
            seeds = ",".join(str(r["config"]["seed"]) for r in runs)
            budget = runs[0]["config"]["total_steps"]
            finished = all(r["summary"] for r in runs)
            sps = [r["steps_per_second"] for r in runs if r["steps_per_second"]]
            sps_s = per_seed(sps, "{:.0f}") if sps else "n/a"
            if finished:
                status = f"finished ({budget / 1e6:g}M)"
                ret = mean_std([r["summary"]["eval_return_mean"] for r in runs]) + " (eval)"
            else:
                steps = ", ".join(f"{r['step'] / 1e3:.0f}k" for r in runs)
                status = f"**UNFINISHED** at {steps} of {budget / 1e3:.0f}k steps"
                recent = [r["recent_return"] for r in runs if r["recent_return"] is not None]
                each = " / ".join(f"{v:.0f}" for v in recent)
                ret = f"{mean_std(recent)} (last recent_return; per seed {each})"
            target = TARGETS.get(key)
            if target is None:
                verdict = "-"
            elif not finished:
                verdict = f">= {target}: not measured (unfinished)"
            else:
                mean = statistics.mean(r["summary"]["eval_return_mean"] for r in runs)
                verdict = f">= {target}: {'MET' if mean >= target else 'NOT met'}"
            lines.append(
                f"| {key[1]} | {seeds} | {status} | {ret} | {sps_s} | "
                f"{fmt_wall([r['wall_seconds'] for r in runs])} | {PUBLISHED.get(key, '-')} | "
                f"{verdict} |"
            )
    nan = [i["name"] for i in infos if i["nan_rows"]]
    lines += ["", "NaN in metrics: " + (", ".join(nan) if nan else "none in any run.")]
    lines += notes(meta, "mujoco") + [""]
    lines += ["## Learning curves (episodic_return; seeds averaged, band = min-max)", ""]
    for env in sorted({k[1] for k in groups}):
        dirs = [i["dir"] for k, g in groups.items() if k[1] == env for i in g]
        name = plot(dirs, bench / "mujoco" / f"{env}.png", f"{env}: episodic return")
        if name:
            lines.append(f"![{env}]({name})")
            lines.append("")
    lines += ["## Commands", ""]
    for info in infos:
        lines.append(f"- `{info['name']}`: `{train_command(info)}`")
    lines += ["", "Runs (config.json, summary.json, metrics.jsonl.gz) are in runs/.", ""]
    for info in infos:
        thin = info["dir"] / "thinned.json"
        if thin.exists():
            t = json.loads(thin.read_text())
            lines.append(
                f"- `{info['name']}/metrics.jsonl.gz` keeps every {t['kept_every']}th of its "
                f"{t['original_rows']} rows, the last one and every row with an episodic_return "
                f"({t['kept_rows']} rows), to keep the repository small."
            )
    lines += sessions(meta)
    lines += ["", "Regenerate: `python scripts/report_benchmarks.py`."]
    (bench / "mujoco" / "README.md").write_text("\n".join(lines) + "\n")
    return infos


def report_atari(bench: Path, meta: dict) -> list[dict]:
    runs_dir = bench / "atari" / "runs"
    infos = run_infos(runs_dir)
    lines = ["# Atari benchmark (ALE v5, PPO on the GPU)", ""] + header(meta)
    lines += [f"- command: `{meta.get('pong_command', '?')}`", ""]
    lines += [
        "| run | status | steps | recent return | eval return | steps/s (whole run) "
        "| wall time | published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for info in infos:
        c = info["config"]
        finished = info["summary"] is not None
        status = "finished" if finished else "**UNFINISHED**"
        ev = "n/a (no evaluation: unfinished)"
        if finished and "eval_return_mean" in info["summary"]:
            ev = f"{info['summary']['eval_return_mean']:.1f} ± {info['summary']['eval_return_std']:.1f}"
        rr = "n/a" if info["recent_return"] is None else f"{info['recent_return']:.1f}"
        lines.append(
            f"| {info['name']} | {status} | {info['step'] / 1e6:.2f}M of "
            f"{c['total_steps'] / 1e6:g}M | {rr} | {ev} | {info['steps_per_second']:.0f} | "
            f"{fmt_wall([info['wall_seconds']])} | CleanRL PPO Pong ~20.4 at 10M steps |"
        )
        name = plot(
            [info["dir"]], bench / "atari" / f"{c['env']}.png", f"{c['env']}: episodic return"
        )
        if name:
            lines += ["", f"![{c['env']}]({name})"]
    lines += [
        "",
        "`recent return` is the mean return of the last training episodes (Pong scores run "
        "from -21 to +21). steps/s counts environment steps (each = 4 frames) over the run's "
        "training wall time, 16 synchronous envs in one process, policy on the H100.",
    ]
    lines += notes(meta, "atari")
    lines += sessions(meta)
    (bench / "atari" / "README.md").write_text("\n".join(lines) + "\n")
    return infos


# What a reader must know about one measurement beside its numbers (by file name).
THROUGHPUT_CAVEATS = {
    "throughput.json": "ran on the device machine (Intel Xeon, 16 cores) while 11 MuJoCo "
    "training jobs and the Pong run shared its cores (device session 2), code 5429bc6",
    "throughput_2core_dev_2026-11-24.json": "one training run on the other core",
    "throughput_2core_dev_2026-11-24_loaded.json": "a Walker2d training run on the other core; "
    "the code of 6f30923 less its cheaper `check_finite`",
    "throughput_2core_dev_2026-11-24_idle.json": "nothing else running; code of 6f30923",
    "throughput_2core_dev_2026-11-24_flat_adam.json": "nothing else running; code of af2c905 "
    "(FlatAdam, the leaner env path, GAE's recursion in NumPy); the first of our three runs "
    "(2,228, 48% of its raw env run) pays the process's one-time cost of the first compile",
}


def report_throughput(bench: Path, src: Path | None, meta: dict) -> dict | None:
    """benchmarks/throughput/README.md: the newest measurement first, then the earlier ones."""
    out = bench / "throughput"
    if src and (src / "throughput" / "throughput.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        for name in ("throughput.json", "throughput.md"):
            if (src / "throughput" / name).exists():
                shutil.copy2(src / "throughput" / name, out / name)
    files = sorted(out.glob("throughput*.json"), key=lambda f: json.loads(f.read_text())["date"])
    if not files:
        return None
    r = json.loads(files[-1].read_text())
    fmt = lambda v: "n/a" if v is None else f"{v:,.0f}"  # noqa: E731
    vs_sb3, vs_raw = r.get("ours_vs_sb3"), r["ours_vs_raw_env"]
    lines = ["# PPO throughput, Hopper-v5 (1 env, 1 torch thread)", ""]
    lines += [
        f"Newest measurement: [{files[-1].stem}.md]({files[-1].stem}.md)",
        "",
        f"- machine: {r['cpu']}; {r['machine']}",
        f"- date: {r['date']}",
        f"- command: `{r['command']}`",
        *(
            [f"- conditions: {THROUGHPUT_CAVEATS[files[-1].name]}"]
            if files[-1].name in THROUGHPUT_CAVEATS
            else []
        ),
        "",
        *results_table(r),
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    if vs_sb3 is not None:
        lines.append(f"| >= 2x SB3 | {vs_sb3:.2f}x | {'MET' if vs_sb3 >= 2 else 'NOT met'} |")
    lines.append(
        f"| >= 50% of the raw env rate | {vs_raw:.0%} | {'MET' if vs_raw >= 0.5 else 'NOT met'} |"
    )
    lines += ["", "## Earlier measurements", ""]
    for f in reversed(files[:-1]):
        e = json.loads(f.read_text())
        ratio = f"{e['ours_vs_sb3']:.2f}x SB3, " if e.get("ours_vs_sb3") else ""
        caveat = THROUGHPUT_CAVEATS.get(f.name)
        lines.append(
            f"- {e['date']}, {e['cpu']} ({e['machine']}), `{e['command']}`: ours "
            f"{fmt(e['ours_steps_per_second'])}, SB3 {fmt(e.get('sb3_steps_per_second'))}, raw "
            f"env {fmt(e['raw_env_steps_per_second'])} steps/s: {ratio}"
            f"{e['ours_vs_raw_env']:.0%} of the raw env ([{f.stem}.md]({f.stem}.md))"
            + (f"; {caveat}." if caveat else ".")
        )
    lines += notes(meta, "throughput")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    return r


def report_lm_gpu(bench: Path, src: Path | None) -> bool:
    if src and (src / "lm_gpu").is_dir():
        out = bench / "lm_gpu"
        out.mkdir(parents=True, exist_ok=True)
        for p in (src / "lm_gpu").iterdir():
            if p.suffix in (".json", ".md") and p.is_file():
                shutil.copy2(p, out / p.name)
    return (bench / "lm_gpu").is_dir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", help="folder of device results to copy in first")
    parser.add_argument("--out", default=str(ROOT / "benchmarks"))
    parser.add_argument("--max-rows", type=int, default=3000, help="thin longer metrics")
    parser.add_argument("--meta", default=None, help="default: OUT/device_sessions.json")
    args = parser.parse_args()
    bench = Path(args.out)
    src = Path(args.src) if args.src else None
    if src:
        for family in ("mujoco", "atari"):
            if (src / family).is_dir():
                copy_runs(src / family, bench / family / "runs", args.max_rows)
    meta_path = Path(args.meta) if args.meta else bench / "device_sessions.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if (bench / "mujoco" / "runs").is_dir():
        for info in report_mujoco(bench, meta):
            status = "finished" if info["summary"] else "unfinished"
            print(f"{info['name']}: {status} at {info['step']}, recent {info['recent_return']}")
    if (bench / "atari" / "runs").is_dir():
        report_atari(bench, meta)
    report_throughput(bench, src, meta)
    report_lm_gpu(bench, src)
    print(f"wrote {bench}")


if __name__ == "__main__":
    main()
