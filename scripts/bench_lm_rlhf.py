"""Benchmark: RLHF of the GPT on CPU -- the four algorithms at matched KL, reward hacking
(beta = 0 beside a KL-controlled run), and the demo's numbers.

    python scripts/bench_lm_rlhf.py algos   --sft RUN --rm RUN [--updates 30] [--threads 2]
    python scripts/bench_lm_rlhf.py hacking --sft RUN --rm RUN [--updates 60]
    python scripts/bench_lm_rlhf.py demo    [--size default]
    python scripts/bench_lm_rlhf.py adaptive --sft RUN --rm RUN --kl-target 2 --kl-horizon 64
    python scripts/bench_lm_rlhf.py methods --sft RUN --rm RUN [--best-of 16] [--updates 20]
    python scripts/bench_lm_rlhf.py rlaif --sft RUN --rm RUN --judge PRETRAIN_RUN [--kl-coef 0.2]

`methods` is lecture 003's controlled comparison: best-of-n (n = 1 is the SFT model), expert
iteration, DPO and PPO from the same SFT model and reward model, gold reward against KL.
`rlaif` is lecture 000's RLAIF: a reward model from an AI labeler's rankings beside the gold
one, PPO against each, win rates against SFT and against each other.
`algos` runs `rlhf lm rlhf --algo A` for PPO, REINFORCE with the leave-one-out baseline
(RLOO), A2C and TRPO from the same SFT model and reward model, each with the same adaptive
KL controller, and evaluates every few updates. The algorithms move at different speeds, so
they are compared at matched KL: along each run's (KL, gold reward) evaluations the gold
reward is interpolated at the largest KL every run reached (and the final values are shown
too). `adaptive` runs PPO twice from the same start, with the fixed beta and with Ziegler et
al.'s adaptive controller (same initial beta, target KL, horizon), and plots KL and beta per
update. Writes benchmarks/lm_rlhf/{algorithms,hacking,demo,adaptive,methods}.{md,json} and PNGs, with
the command, the machine (utils.machine) and the date.
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "lm_rlhf"
ALGOS = ("ppo", "reinforce", "a2c", "trpo")
NAMES = {"ppo": "PPO", "reinforce": "RLOO (REINFORCE, leave-one-out)", "a2c": "A2C",
         "trpo": "TRPO"}  # fmt: skip


def run(cmd: list[str]) -> float:
    """Run `python -m rlhf_from_scratch ...`; returns the wall time."""
    start = time.time()
    subprocess.run([sys.executable, "-m", "rlhf_from_scratch", *cmd], check=True, cwd=ROOT)
    return time.time() - start


def header(title: str, commands: list[str], load: tuple) -> list[str]:
    from rlhf_from_scratch.utils.machine import machine_info

    info = machine_info()
    return [
        f"# {title}",
        "",
        "Commands:",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Made by `python scripts/{Path(__file__).name} {' '.join(sys.argv[1:])}` on "
        f"{info['date']}. Machine: {info['cores']} cores ({info['cpu']}), torch "
        f"{info['torch']}{', GPU ' + info['gpu'] if 'gpu' in info else ''}; load average "
        f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after (above the thread count: the "
        "cores were shared with other work).",
        "",
    ]


def write_report(name: str, lines: list[str], data: dict) -> None:
    """benchmarks/lm_rlhf/NAME.md (the lines) and NAME.json (the numbers behind them)."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2))


def evals(run_dir: Path) -> list[dict]:
    """The evaluation rows of an rlhf run (step 0 included), as {step, kl, gold_reward, ...}."""
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["step"] == 0:
            out.append({k: row[k] for k in row if not k.startswith("eval_")})
        elif "eval_kl" in row:
            out.append({"step": row["step"], **{k[5:]: v for k, v in row.items()
                                                if k.startswith("eval_")}})  # fmt: skip
    return out


def at_kl(rows: list[dict], kl: float, key: str) -> float:
    """`key` interpolated at KL `kl` along the run's evaluations (KL made monotone)."""
    kls = np.maximum.accumulate(np.array([r["kl"] for r in rows]))
    return float(np.interp(kl, kls, [r[key] for r in rows]))


def rlhf_cmd(args, name: str, run_dir: Path, *extra: str) -> list[str]:
    cmd = ["lm", "rlhf", "--policy", args.sft, "--reward-model", args.rm, "--algo", name,
           "--updates", str(args.updates), "--eval-every", str(args.eval_every),
           "--checkpoint-every", str(args.updates), "--device", "cpu", "--no-progress",
           "--run-dir", str(run_dir), *extra]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd + args.extra


def kl_flags(args) -> list[str]:
    flags = ["--kl-coef", str(args.kl_coef)]
    return flags + (["--kl-target", str(args.kl_target)] if args.kl_target else [])


def kl_note(args) -> str:
    if args.kl_target:
        return f"adaptive KL (initial beta {args.kl_coef}, target {args.kl_target} nats)"
    return f"fixed beta {args.kl_coef}"


def bench_algos(args) -> None:
    load = os.getloadavg()
    runs, commands, times = {}, [], {}
    for name in args.algos:
        run_dir = Path(args.runs) / f"rlhf-{name}"
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = rlhf_cmd(args, name, run_dir, *kl_flags(args))
        commands.append("rlhf " + " ".join(cmd))
        times[name] = run(cmd)
        runs[name] = run_dir
    rows = {name: evals(d) for name, d in runs.items()}
    matched = min(max(r["kl"] for r in rs) for rs in rows.values())
    table = {}
    for name, rs in rows.items():
        summary = json.loads((runs[name] / "summary.json").read_text())
        table[name] = {
            "gold_sft": rs[0]["gold_reward"],
            "gold_at_matched_kl": at_kl(rs, matched, "gold_reward"),
            "rm_at_matched_kl": at_kl(rs, matched, "rm_score"),
            "grammar_at_matched_kl": at_kl(rs, matched, "grammar"),
            "final": {k: v for k, v in summary["after"].items() if k != "samples"},
            "wall_time_s": times[name],
        }
    plot_frontier(rows, matched, OUT / "algorithms.png")
    lines = header("RLHF of the GPT: four algorithms at matched KL (CPU)", commands, load)
    lines += [
        f"Same SFT model and reward model for all; {args.updates} updates of "
        f"{args.batch_note}; {kl_note(args)}. Gold reward = the gold labeler's score on 48 held-out "
        f"prompts (one sample each). Matched KL = {matched:.2f} nats (the largest KL all "
        "four reached), interpolated along each run's evaluations.",
        "",
        "| algorithm | gold (SFT) | gold at matched KL | RM score at matched KL | grammar at "
        "matched KL | final KL | final gold | final RM score | wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, t in table.items():
        f = t["final"]
        lines.append(
            f"| {NAMES[name]} | {t['gold_sft']:.3f} | {t['gold_at_matched_kl']:.3f} | "
            f"{t['rm_at_matched_kl']:.3f} | {t['grammar_at_matched_kl']:.3f} | {f['kl']:.2f} | "
            f"{f['gold_reward']:.3f} | {f['rm_score']:.3f} | {t['wall_time_s']:.0f} s |"
        )
    lines += ["", "![gold reward against KL](algorithms.png)", ""]
    write_report(
        "algorithms",
        lines,
        {"matched_kl": matched, "table": table, "evals": rows, "commands": commands},
    )


def bench_methods(args) -> None:
    """Lecture 003's controlled comparison at our scale: SFT, best-of-n, expert iteration,
    DPO and PPO from one SFT model and one reward model (and its comparisons)."""
    from rlhf_from_scratch.lm.gold import win_rate

    load = os.getloadavg()
    base = ["--policy", args.sft]
    common = ["--device", "cpu", "--no-progress", "--num-eval-prompts", str(args.eval_prompts)] + (
        ["--threads", str(args.threads)] if args.threads else []
    )
    jobs = {
        "best-of-n": ["lm", "best-of-n", *base, "--reward-model", args.rm, "--n",
                      str(args.best_of)],
        "expert iteration": ["lm", "expert-iteration", *base, "--reward-model", args.rm],
        "DPO": ["lm", "dpo", *base, "--preferences", args.rm, "--eval-every", "10"],
        "PPO": ["lm", "rlhf", *base, "--reward-model", args.rm, "--algo", "ppo",
                "--updates", str(args.updates), "--eval-every", str(args.eval_every),
                "--checkpoint-every", str(args.updates), *kl_flags(args)],
    }  # fmt: skip
    runs, commands, times = {}, [], {}
    for name, cmd in jobs.items():
        run_dir = Path(args.runs) / ("methods-" + name.replace(" ", "-").lower())
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [*cmd, *common, "--run-dir", str(run_dir)]
        commands.append("rlhf " + " ".join(cmd))
        times[name] = run(cmd)
        runs[name] = run_dir
    bon = json.loads((runs["best-of-n"] / "summary.json").read_text())
    table = {"SFT": {**bon["rows"][0], "kl": 0.0, "cost": "1 sample / prompt"}}
    for row in bon["rows"][1:]:
        table[f"best-of-{row['n']}"] = {**row, "kl": row["kl_bound"],
                                        "cost": f"{row['n']} samples + RM / prompt"}  # fmt: skip
    curves = {"best-of-n": [(r["kl_bound"], r["gold_reward"]) for r in bon["rows"]]}
    for name in ("expert iteration", "DPO", "PPO"):
        rows = evals(runs[name])
        curves[name] = [(r["kl"], r["gold_reward"]) for r in rows]
        summary = json.loads((runs[name] / "summary.json").read_text())
        # the same held-out prompts answered by the SFT model (before) and the trained one
        wins = win_rate([x["gold"] for x in summary["after"]["samples"]],
                        [x["gold"] for x in summary["before"]["samples"]])  # fmt: skip
        table[name] = {**rows[-1], "win_rate": wins, "cost": COSTS[name],
                       "wall_time_s": times[name]}  # fmt: skip
    table["SFT"]["wall_time_s"] = table[f"best-of-{bon['rows'][-1]['n']}"]["wall_time_s"] = times[
        "best-of-n"
    ]
    plot_methods(curves, OUT / "methods.png")
    lines = header("Lecture 003's controlled comparison on the GPT (CPU)", commands, load)
    lines += [
        "All from the same SFT model and reward model; DPO trains on the reward model's own "
        "comparisons (its preference store). Gold reward, grammar: the gold labeler on "
        f"{args.eval_prompts} held-out prompts, one response each (best-of-n: the RM's choice among n). KL to the "
        "SFT model in nats per response: sampled for the trained policies, log n - (n-1)/n "
        "for best-of-n. Win rate vs SFT: the share of prompts where the gold labeler scores the "
        "method's response above the SFT model's response to the same prompt (ties count half; "
        "best-of-n: against the first of its n samples, a plain SFT sample), lecture 003's "
        "'simulated win-rate' with the gold labeler as the judge. One seed: differences below "
        "about 0.05 in gold reward or 5 points of win rate are noise.",
        "",
        "| method | win rate vs SFT | gold reward | RM score | KL (nats) | grammar | cost | "
        "wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, t in table.items():
        wall = f"{t['wall_time_s']:.0f} s" if "wall_time_s" in t else "(with best-of-n)"
        lines.append(
            f"| {name} | {t['win_rate']:.0%} | {t['gold_reward']:.3f} | {t['rm_score']:.3f} | "
            f"{t['kl']:.2f} | "
            f"{t['grammar']:.3f} | {t['cost']} | {wall} |"
        )
    lines += ["", "![gold reward against KL](methods.png)", ""]
    write_report("methods", lines, {"table": table, "curves": curves, "commands": commands})


def bench_rlaif(args) -> None:
    """Lecture 000's RLAIF table at our scale: a reward model from AI labels (the --judge GPT's
    recommend-or-not probes) beside the one from gold labels, PPO against each, win rates."""
    from rlhf_from_scratch.lm.gold import win_rate

    load = os.getloadavg()
    common = ["--device", "cpu", "--no-progress", "--num-eval-prompts", str(args.eval_prompts)]
    common += ["--threads", str(args.threads)] if args.threads else []
    runs_root = Path(args.runs)
    rm_ai = runs_root / "rlaif-rm-ai"
    shutil.rmtree(rm_ai, ignore_errors=True)
    rm_cmd = ["lm", "rm", "--policy", args.sft, "--labeler", "ai", "--judge", args.judge,
              *args.rm_flags, "--device", "cpu", "--no-progress", "--run-dir", str(rm_ai)]  # fmt: skip
    rm_cmd += ["--threads", str(args.threads)] if args.threads else []
    commands, times = ["rlhf " + " ".join(rm_cmd)], {"AI reward model": run(rm_cmd)}
    arms = {
        "RLHF (gold labels)": ("gold", ["--reward-model", args.rm]),
        "RLAIF (AI labels)": ("ai", ["--reward-model", str(rm_ai)]),
        "direct RLAIF (AI score as the reward)": ("direct", ["--ai-judge", args.judge]),
    }
    runs = {}
    for name, (short, reward) in arms.items():
        run_dir = runs_root / f"rlaif-ppo-{short}"
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = ["lm", "rlhf", "--policy", args.sft, *reward, "--algo", "ppo",
               "--updates", str(args.updates), "--eval-every", str(args.eval_every),
               "--checkpoint-every", str(args.updates), *kl_flags(args), *common,
               "--run-dir", str(run_dir)]  # fmt: skip
        commands.append("rlhf " + " ".join(cmd))
        times[name] = run(cmd)
        runs[name] = json.loads((run_dir / "summary.json").read_text())
    golds = {name: [x["gold"] for x in r["after"]["samples"]] for name, r in runs.items()}
    direct = "direct RLAIF (AI score as the reward)"
    sft = [x["gold"] for x in runs["RLHF (gold labels)"]["before"]["samples"]]
    rm_gold = json.loads((Path(args.rm) / "summary.json").read_text())
    rm_ai_summary = json.loads((rm_ai / "summary.json").read_text())
    lines = header("RLAIF beside RLHF on the GPT (CPU)", commands, load)
    lines += [
        f"The AI labeler is `{args.judge}`: it ranks the SFT model's K samples by how much "
        "more likely it finds a recommending closing than a condemning one after each response "
        "(lm/ai_feedback.py); it never sees a gold label. Both reward models rank the same "
        "SFT samples of the same prompts; PPO runs with the same settings against each, and "
        "against the AI labeler's score itself, normalised on SFT samples (direct RLAIF, no "
        "reward model). "
        f"Evaluation: {args.eval_prompts} held-out prompts, one answer each, judged by the gold "
        "labeler; win rate = the share of prompts where one answer scores above the other "
        "(ties half).",
        "",
        "| labels | labeler agreement with gold | RM held-out accuracy vs gold |",
        "|---|---|---|",
        f"| gold | 100% | {rm_gold['held_out_accuracy']:.3f} |",
        f"| AI | {rm_ai_summary['labeler_agreement_with_gold']:.1%} | "
        f"{rm_ai_summary['held_out_accuracy_vs_gold']:.3f} |",
        "",
        "| comparison | win rate |",
        "|---|---|",
        f"| RLAIF vs SFT | {win_rate(golds['RLAIF (AI labels)'], sft):.0%} |",
        f"| RLHF vs SFT | {win_rate(golds['RLHF (gold labels)'], sft):.0%} |",
        f"| RLAIF vs RLHF | "
        f"{win_rate(golds['RLAIF (AI labels)'], golds['RLHF (gold labels)']):.0%} |",
        f"| direct RLAIF vs SFT | {win_rate(golds[direct], sft):.0%} |",
        f"| direct RLAIF vs RLAIF | {win_rate(golds[direct], golds['RLAIF (AI labels)']):.0%} |",
        "",
        "| policy | gold reward | score of its own reward (RM or AI) | KL (nats) | grammar | "
        "wall time |",
        "|---|---|---|---|---|---|",
        f"| SFT | {runs['RLHF (gold labels)']['before']['gold_reward']:.3f} | - | 0.00 | "
        f"{runs['RLHF (gold labels)']['before']['grammar']:.3f} | - |",
    ]
    for name, r in runs.items():
        a = r["after"]
        lines.append(
            f"| {name} | {a['gold_reward']:.3f} | {a['rm_score']:.3f} | {a['kl']:.2f} | "
            f"{a['grammar']:.3f} | {times[name]:.0f} s |"
        )
    write_report(
        "rlaif",
        lines,
        {
            "runs": {
                k: {
                    "before": {x: y for x, y in v["before"].items() if x != "samples"},
                    "after": {x: y for x, y in v["after"].items() if x != "samples"},
                }
                for k, v in runs.items()
            },
            "rm_ai": rm_ai_summary,
            "commands": commands,
            "times": times,
        },
    )


COSTS = {
    "expert iteration": "training: rounds x prompts x n samples; then 1 sample / prompt",
    "DPO": "training: the RM's comparisons, no sampling; then 1 sample / prompt",
    "PPO": "training: updates x 32 samples + RM + critic; then 1 sample / prompt",
}


def plot_methods(curves: dict, out: Path) -> None:
    """Gold reward against KL to the SFT model, one line per method (evaluations in order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=4,
                label=name)  # fmt: skip
    ax.set_xlabel("KL to the SFT model (nats / response)")
    ax.set_ylabel("gold reward (held-out prompts)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, out)


def two_panels():
    """A figure of two side-by-side axes (matplotlib without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, 2, figsize=(11, 4.2))


def save_figure(fig, out: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_frontier(rows: dict, matched: float, out: Path) -> None:
    fig, axes = two_panels()
    for name, rs in rows.items():
        kl = [r["kl"] for r in rs]
        axes[0].plot(kl, [r["gold_reward"] for r in rs], marker="o", label=NAMES[name])
        axes[1].plot(kl, [r["rm_score"] for r in rs], marker="o", label=NAMES[name])
    for ax, title in zip(axes, ("gold reward", "reward-model score (normalised)"), strict=True):
        ax.axvline(matched, color="grey", linestyle=":", label="matched KL")
        ax.set_xlabel("KL(pi || pi_SFT), nats per response")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    save_figure(fig, out)


def bench_hacking(args) -> None:
    from rlhf_from_scratch.lm.report import plot_rlhf, samples_markdown

    load = os.getloadavg()
    runs, commands = {}, []
    for label, extra in (
        (f"PPO, {kl_note(args)}",
         kl_flags(args)),
        ("PPO, beta = 0 (no KL penalty)", ["--kl-coef", "0"]),
    ):  # fmt: skip
        run_dir = Path(args.runs) / ("hack-kl" if "beta = 0" not in label else "hack-beta0")
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = rlhf_cmd(args, "ppo", run_dir, *extra)
        commands.append("rlhf " + " ".join(cmd))
        run(cmd)
        runs[label] = run_dir
    plot_rlhf(runs, OUT / "hacking.png", "Naive RL fine-tuning (beta = 0) vs KL-control")
    lines = header("Reward hacking: PPO with and without the KL penalty (CPU)", commands, load)
    lines += [
        "| run | gold reward | RM score | KL | grammar | repetition |",
        "|---|---|---|---|---|---|",
    ]
    summaries = {k: json.loads((d / "summary.json").read_text()) for k, d in runs.items()}
    first = next(iter(summaries.values()))["before"]
    lines.append(f"| SFT | {first['gold_reward']:.3f} | {first['rm_score']:.3f} | "
                 f"{first['kl']:.2f} | {first['grammar']:.3f} | {first['repetition']:.3f} |")  # fmt: skip
    for label, s in summaries.items():
        a = s["after"]
        lines.append(f"| {label} | {a['gold_reward']:.3f} | {a['rm_score']:.3f} | {a['kl']:.2f}"
                     f" | {a['grammar']:.3f} | {a['repetition']:.3f} |")  # fmt: skip
    lines += ["", "![curves](hacking.png)", ""]
    for label, s in summaries.items():
        lines += [f"## Samples: {label}", "", samples_markdown(s["before"], s["after"], 4)]
    write_report(
        "hacking",
        lines,
        {k: {"before": s["before"], "after": s["after"]} for k, s in summaries.items()},
    )


def bench_adaptive(args) -> None:
    if not args.kl_target:
        raise SystemExit("adaptive needs --kl-target (nats per response)")
    load = os.getloadavg()
    runs, commands = {}, []
    horizon = ["--kl-horizon", str(args.kl_horizon)] if args.kl_horizon else []
    for label, extra in (
        (f"fixed beta {args.kl_coef}", ["--kl-coef", str(args.kl_coef)]),
        (f"adaptive, target {args.kl_target} nats", [*kl_flags(args), *horizon]),
    ):
        run_dir = Path(args.runs) / ("kl-fixed" if label.startswith("fixed") else "kl-adaptive")
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = rlhf_cmd(args, "ppo", run_dir, *extra)
        commands.append("rlhf " + " ".join(cmd))
        run(cmd)
        runs[label] = run_dir
    per_update = {
        label: [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        for label, d in runs.items()
    }
    per_update = {k: [r for r in rows if "beta" in r] for k, rows in per_update.items()}
    plot_adaptive(per_update, args.kl_target, OUT / "adaptive.png")
    summaries = {k: json.loads((d / "summary.json").read_text()) for k, d in runs.items()}
    lines = header("Adaptive KL control (Ziegler et al. 2019) against a fixed beta (CPU)",
                   commands, load)  # fmt: skip
    tail = max(1, len(next(iter(per_update.values()))) // 3)
    lines += [
        f"PPO from the same SFT model and reward model, {args.updates} updates; both start at "
        f"beta {args.kl_coef}. The controller: e = clip(KL / target - 1, -0.2, 0.2), "
        "beta <- beta (1 + e n / horizon), n = responses in the update "
        "(rlhf_from_scratch/lm/kl_control.py). KL here is the sampled KL of the update's "
        f"responses (nats per response); 'late' = mean over the last {tail} updates.",
        "",
        "| run | late KL (training) | final beta | eval KL | eval gold reward | eval grammar |",
        "|---|---|---|---|---|---|",
    ]
    for label, rows in per_update.items():
        a = summaries[label]["after"]
        late = float(np.mean([r["kl"] for r in rows[-tail:]]))
        lines.append(f"| {label} | {late:.2f} | {rows[-1]['beta']:.3f} | {a['kl']:.2f} | "
                     f"{a['gold_reward']:.3f} | {a['grammar']:.3f} |")  # fmt: skip
    lines += ["", "![KL and beta per update](adaptive.png)", ""]
    write_report(
        "adaptive",
        lines,
        {
            k: {
                "kl": [r["kl"] for r in rows],
                "beta": [r["beta"] for r in rows],
                "after": {x: v for x, v in summaries[k]["after"].items() if x != "samples"},
            }
            for k, rows in per_update.items()
        }
        | {"commands": commands},
    )


def plot_adaptive(per_update: dict, target: float, out: Path) -> None:
    fig, axes = two_panels()
    for label, rows in per_update.items():
        steps = [r["step"] for r in rows]
        axes[0].plot(steps, [r["kl"] for r in rows], label=label)
        axes[1].plot(steps, [r["beta"] for r in rows], label=label)
    axes[0].axhline(target, color="grey", linestyle=":", label="target KL")
    axes[0].set_ylabel("KL(pi || pi_SFT), nats per response")
    axes[1].set_ylabel("beta")
    for ax in axes:
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, out)


def bench_demo(args) -> None:
    import resource

    load = os.getloadavg()
    run_dir = Path(args.runs) / "demo"
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = ["demo", "--size", args.size, "--device", "cpu", "--no-progress",
           "--run-dir", str(run_dir)]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += args.extra
    wall = run(cmd)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    s = json.loads((run_dir / "summary.json").read_text())
    gold_kind = json.loads((run_dir / "rlhf" / "summary.json").read_text())["gold"]
    b, a = s["before"], s["after"]
    lines = header("`rlhf demo` on CPU", ["rlhf " + " ".join(cmd)], load)
    lines += [
        "| quantity | SFT (before RL) | after RLHF |",
        "|---|---|---|",
        *[
            f"| {name} | {b[k]:.3f} | {a[k]:.3f} |"
            for k, name in (
                ("gold_reward", f"gold reward ({gold_kind})"),
                ("rm_score", "RM score"),
                ("kl", "KL to SFT (nats / response)"),
                ("grammar", "grammaticality"),
                ("repetition", "repetition"),
            )
        ],  # fmt: skip
        "",
        f"Reward model held-out accuracy {s['rm_held_out_accuracy']:.3f} "
        f"({s['rm_comparisons']} comparisons). Wall time {wall:.0f} s (stages: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in s["stage_times_s"].items())
        + f"); peak memory (max RSS) {peak_mb:.0f} MB.",
        "",
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "rlhf_curves.png", OUT / "demo_curves.png")
    lines += ["![curves](demo_curves.png)", ""]
    (OUT / "demo.md").write_text("\n".join(lines) + "\n")
    (OUT / "demo.json").write_text(json.dumps(
        {**s, "wall_s": wall, "peak_rss_mb": peak_mb, "command": "rlhf " + " ".join(cmd)},
        indent=2))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "what", choices=("algos", "hacking", "demo", "adaptive", "methods", "rlaif")
    )
    parser.add_argument("--sft", default=None, help="SFT run directory (algos, hacking)")
    parser.add_argument("--rm", default=None, help="reward-model run directory")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "bench-lm-rlhf"))
    parser.add_argument("--algos", nargs="+", default=list(ALGOS))
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--kl-target", type=float, default=None)
    parser.add_argument("--kl-horizon", type=int, default=None, help="adaptive: the horizon")
    parser.add_argument("--best-of", type=int, default=16, help="methods: the largest n")
    parser.add_argument("--eval-prompts", type=int, default=96, help="methods: held-out prompts")
    parser.add_argument("--judge", default=None, help="rlaif: the AI labeler's run directory")
    parser.add_argument(
        "--rm-flags", nargs="*", default=["--num-prompts", "160", "--k", "4", "--max-new-tokens",
                                          "120", "--epochs", "3", "--lr", "3e-4"],
        help="rlaif: flags of the AI reward model's `lm rm` (those of the gold one)",
    )  # fmt: skip
    parser.add_argument("--size", default="default")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more flags")
    args = parser.parse_args()
    args.batch_note = "8 prompts x 4 samples (the `lm rlhf` defaults unless --extra says)"
    if args.what == "rlaif" and not args.judge:
        parser.error("'rlaif' needs --judge RUN_DIR (the AI labeler: a pretraining or SFT run)")
    if args.what != "demo" and not (args.sft and args.rm):
        parser.error(f"'{args.what}' needs --sft RUN_DIR and --rm RUN_DIR")
    {"algos": bench_algos, "hacking": bench_hacking, "demo": bench_demo,
     "adaptive": bench_adaptive, "methods": bench_methods,
     "rlaif": bench_rlaif}[args.what](args)  # fmt: skip


if __name__ == "__main__":
    main()
