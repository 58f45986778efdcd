"""Table and figure for learning from preferences: return vs label budget, beside the true reward.

    python scripts/report_preferences.py runs/bench_pref_pendulum --out benchmarks/preferences/pendulum \
        --command "python scripts/bench_suite.py ..."

Groups the run directories by (reward, label budget, query method, how episodes end); reports
each group's final
deterministic evaluation (mean and std over seeds), labels used, the reward model's held-out
accuracy, and the return as a fraction of the true-reward runs' (the paper's comparison). The
figure is `rlhf plot` over all runs (seeds averaged), so it can be regenerated from the files.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from rlhf_from_scratch.utils.machine import machine_info
from rlhf_from_scratch.utils.plots import plot_runs
from rlhf_from_scratch.utils.rundir import read_metrics


def episodes(config: dict) -> str:
    """How the run's episodes end: fixed length, or ended by the env (shown in the clips or not),
    with the alive bonus added to r_hat if any."""
    prefs = config.get("preference_config") or {}
    fixed = config.get("fixed_length")
    if fixed is None:  # the default: fixed length for preference runs outside Atari
        fixed = (
            config.get("reward") == "preferences"
            and not prefs.get("absorbing")
            and not config["env"].startswith("ALE/")
        )
    if fixed:
        return "fixed length"
    text = "ends shown in clips" if prefs.get("absorbing") else "ends kept"
    if prefs.get("rm_target_mean"):
        text += f", bonus {prefs['rm_target_mean']:g}"
    return text


def group_key(config: dict) -> tuple:
    prefs = config.get("preference_config") or {}
    if config.get("reward") != "preferences":
        return ("true reward", 0, "", episodes(config))
    return ("preferences", prefs.get("labels", 700), prefs.get("query", "random"), episodes(config))


HAND_WRITTEN = "## What we see (written by hand"  # the heading may go on: "... from the curves)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", help="a folder of run directories")
    parser.add_argument("--out", required=True)
    parser.add_argument("--command", default="", help="the command that made the runs")
    parser.add_argument(
        "--true", nargs="*", default=[], help="true-reward run directories kept elsewhere"
    )
    parser.add_argument(
        "--plot-without-fixed-length",
        action="store_true",
        help="leave fixed-length runs out of the figure: their training returns carry the fall "
        "penalty and sit on another scale (the table still has them)",
    )
    args = parser.parse_args(argv)
    runs = sorted(p.parent for p in Path(args.root).glob("*/config.json"))
    runs += [Path(p) for p in args.true]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        config = json.loads((run / "config.json").read_text())
        summary_path = run / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
        last = read_metrics(run)[-1] if read_metrics(run) else {}
        groups[group_key(config)].append(
            {"run": run, "config": config, "summary": summary, "last": last}
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = next(iter(groups.values()))[0]["config"]["env"]
    true_runs = [
        r["summary"]["eval_return_mean"]
        for key, rows in groups.items()
        if key[0] == "true reward"
        for r in rows
        if r["summary"]
    ]
    true_mean = float(np.mean(true_runs)) if true_runs else None
    machine = machine_info()
    lines = [
        f"# Learning from synthetic preferences: {env}",
        "",
        f"- date: {machine['date']}; machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}",
        f"- command: `{args.command}`"
        if args.command
        else "- command: see config.json of each run",
        "- return: the final deterministic evaluation (summary.json), mean ± std over seeds; "
        "'episode std': the std over one run's evaluation episodes (mean over seeds); "
        "true-reward PPO on the same seeds for scale; unfinished runs are marked.",
        "",
        "| reward | labels | query | episodes | seeds | eval return | episode std | vs true reward | RM held-out acc. | corr(r_hat, r) last update |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(groups, key=lambda k: (k[0] != "true reward", k[1], k[2], k[3])):
        rows = groups[key]
        done = [r for r in rows if r["summary"]]
        returns = [r["summary"]["eval_return_mean"] for r in done]
        ret = f"{np.mean(returns):.0f} ± {np.std(returns):.0f}" if returns else "unfinished"
        if len(done) < len(rows):
            ret += f" ({len(rows) - len(done)} unfinished)"
        spread = [r["summary"]["eval_return_std"] for r in done]
        spread_text = f"{np.mean(spread):.0f}" if spread else "-"
        rel = ""
        if returns and true_mean is not None and key[0] != "true reward":
            rel = f"{np.mean(returns) - true_mean:+.0f}"  # a difference: returns may be negative
            if true_mean > 0:  # MuJoCo locomotion: the paper's "fraction of RL"
                rel += f" ({np.mean(returns) / true_mean:.0%})"
        acc = [
            r["summary"].get("rm_val_accuracy")
            for r in done
            if r["summary"].get("rm_val_accuracy") is not None
        ]
        corr = [
            r["last"].get("rm_true_corr") for r in rows if r["last"].get("rm_true_corr") is not None
        ]
        acc_text = f"{np.mean(acc):.3f}" if acc else "-"
        corr_text = f"{np.mean(corr):.3f}" if corr else "-"
        lines.append(
            f"| {key[0]} | {key[1] or '-'} | {key[2] or '-'} | {key[3]} | {len(rows)} | {ret} | "
            f"{spread_text} | "
            f"{rel or '-'} | "
            f"{acc_text} | {corr_text} |"
        )
    lines += [
        "",
        "'vs true reward' is the difference of mean returns to the true-reward runs (same seeds),"
        " and where those are positive the ratio of the two.",
        "",
    ]
    plotted = [
        key for key in groups if not (args.plot_without_fixed_length and key[3] == "fixed length")
    ]
    figure = plot_runs(
        [r["run"] for key in plotted for r in groups[key]],
        out / "curves.png",
        metric="episodic_return",
        title=f"{env}: true return vs env steps",
    )
    lines += [f"![learning curves]({figure.name})", ""]
    if len(plotted) < len(groups):
        lines += ["The fixed-length runs are left out of the figure (the fall penalty).", ""]
    readme = out / "README.md"
    if readme.exists():  # a regenerated table keeps the hand-written reading below it
        old_text = readme.read_text()
        if HAND_WRITTEN in old_text:
            lines += [HAND_WRITTEN + old_text.split(HAND_WRITTEN, 1)[1].rstrip("\n"), ""]
    readme.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
