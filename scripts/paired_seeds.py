"""Two sets of runs on the same seeds, compared pair by pair: the per-seed table and the figures a
pre-registered rule is judged on.

    python scripts/paired_seeds.py --baseline runs/true-s* --treatment runs/pref-s* \
        [--resamples 20000] [--out comparison.md]

Runs are paired by the seed in their config.json (a seed missing on one side is refused, naming
it). Reported: each seed's final deterministic evaluation (summary.json `eval_return_mean`) on
both sides and their ratio; the means (with the population std over seeds) and the ratio of the
means, which is what "preferences reach X% of true-reward PPO" means here; the paired
difference's mean and standard error (std with ddof 1 over sqrt(n)), and beside it the unpaired
(Welch) standard error of the difference of the means, sqrt(s_b^2 / n + s_t^2 / n) with ddof 1:
a seed is the same draw only on the same machine and software stack, so for runs made apart the
pairing is nominal and the unpaired figure is the one to read; a bootstrap over the pairs
of the ratio of means (2.5 and 97.5 percentiles, and how often it is >= 1); and beside them the
eval episode lengths, the policy's entropy in the last metrics row, the mean true return of the
last 20 training episodes (summary.json `recent_return`, stochastic policy), PPO's approx KL
per update and clip fraction averaged over the middle of the run (20-80% of its steps: how far
each update moved the policy), the correlation of r_hat with the true reward on the fresh
rollouts over the same middle of the run (`rm_true_corr`, where the run has a reward model:
the figure that compares across query methods, since each method picks its own held-out
pairs), and the reward model's held-out accuracy on the newest quarter of the labels where
there is one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rlhf_from_scratch.utils.rundir import read_metrics


def read_run(run_dir: str) -> dict:
    """What the comparison needs from one finished run directory."""
    path = Path(run_dir)
    summary_path = path / "summary.json"
    if not summary_path.exists():
        raise SystemExit(f"{run_dir}: no summary.json (the run has not finished)")
    config = json.loads((path / "config.json").read_text())
    summary = json.loads(summary_path.read_text())
    rows = read_metrics(path)
    entropies = [row["entropy"] for row in rows if "entropy" in row]
    last_step = max((row.get("step", 0) for row in rows), default=0)
    middle = [row for row in rows if 0.2 * last_step <= row.get("step", 0) <= 0.8 * last_step]

    def middle_mean(key: str) -> float | None:
        values = [row[key] for row in middle if key in row]
        return float(np.mean(values)) if values else None

    return {
        "seed": config["seed"],
        "return": summary["eval_return_mean"],
        "length": summary.get("eval_length_mean"),
        "entropy": entropies[-1] if entropies else None,
        "approx_kl": middle_mean("approx_kl"),  # PPO only
        "clipfrac": middle_mean("clipfrac"),
        "true_corr": middle_mean("rm_true_corr"),  # preference runs only
        "accuracy_recent": summary.get("rm_val_accuracy_recent"),
        "recent_return": summary.get("recent_return"),  # the last 20 training episodes
    }


def pair_by_seed(baseline: list[dict], treatment: list[dict]) -> list[tuple[dict, dict]]:
    for side, runs in (("baseline", baseline), ("treatment", treatment)):
        seeds = [run["seed"] for run in runs]
        if len(set(seeds)) != len(seeds):
            raise SystemExit(f"the {side} runs repeat a seed: {sorted(seeds)}")
    by_seed = {run["seed"]: run for run in treatment}
    unmatched = sorted({r["seed"] for r in baseline} ^ set(by_seed))
    if unmatched:
        raise SystemExit(f"seeds {unmatched} are run on one side only: pair every seed")
    return [(run, by_seed[run["seed"]]) for run in sorted(baseline, key=lambda r: r["seed"])]


def compare(baseline: np.ndarray, treatment: np.ndarray, resamples: int, seed: int = 0) -> dict:
    """The figures of a paired comparison of two arrays of returns, one entry per seed."""
    n = len(baseline)
    if n < 2:
        raise SystemExit(f"a paired comparison needs at least 2 seeds, got {n}")
    difference = treatment - baseline
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))  # pairs drawn with replacement
    ratios = treatment[picks].mean(axis=1) / baseline[picks].mean(axis=1)
    return {
        "n": n,
        "baseline_mean": baseline.mean(),
        "baseline_std": baseline.std(),
        "treatment_mean": treatment.mean(),
        "treatment_std": treatment.std(),
        "ratio": treatment.mean() / baseline.mean(),
        "difference_mean": difference.mean(),
        "difference_se": difference.std(ddof=1) / np.sqrt(n),
        "unpaired_se": np.sqrt((baseline.var(ddof=1) + treatment.var(ddof=1)) / n),
        "bootstrap_low": np.percentile(ratios, 2.5),
        "bootstrap_high": np.percentile(ratios, 97.5),
        "bootstrap_at_least_1": (ratios >= 1).mean(),
    }


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def report(pairs: list[tuple[dict, dict]], figures: dict, names: tuple[str, str]) -> str:
    base, treat = names
    lines = [
        f"| seed | {base} | {treat} | % | eval length ({treat} / {base}) "
        f"| entropy at the end ({treat} / {base}) "
        f"| last 20 training episodes ({treat} / {base}) "
        f"| approx KL, clip fraction at 20-80% of the run ({treat} / {base}) "
        f"| corr(r_hat, r) at 20-80% ({treat} / {base}) "
        f"| newest-quarter accuracy ({treat}) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b, t in pairs:
        lines.append(
            f"| {b['seed']} | {b['return']:.0f} | {t['return']:.0f} "
            f"| {100 * t['return'] / b['return']:.0f}% "
            f"| {_cell(t['length'], '.0f')} / {_cell(b['length'], '.0f')} "
            f"| {_cell(t['entropy'], '.2f')} / {_cell(b['entropy'], '.2f')} "
            f"| {_cell(t['recent_return'], '.0f')} / {_cell(b['recent_return'], '.0f')} "
            f"| {_cell(t['approx_kl'], '.4f')}, {_cell(t['clipfrac'], '.2f')} "
            f"/ {_cell(b['approx_kl'], '.4f')}, {_cell(b['clipfrac'], '.2f')} "
            f"| {_cell(t['true_corr'], '.3f')} / {_cell(b['true_corr'], '.3f')} "
            f"| {_cell(t['accuracy_recent'], '.3f')} |"
        )
    f = figures
    lines.append(
        f"| **mean** | **{f['baseline_mean']:.0f} ± {f['baseline_std']:.0f}** "
        f"| **{f['treatment_mean']:.0f} ± {f['treatment_std']:.0f}** "
        f"| **{100 * f['ratio']:.0f}%** | | | | | | |"
    )
    lines += [
        "",
        f"- {f['n']} pairs; ± is the std over seeds (ddof 0).",
        f"- ratio of the means: {100 * f['ratio']:.1f}%",
        f"- paired difference ({treat} - {base}): {f['difference_mean']:+.0f}, "
        f"standard error {f['difference_se']:.0f} (unpaired, Welch: {f['unpaired_se']:.0f}; "
        "read that one for runs made on different machines or software)",
        f"- bootstrap over the pairs, ratio of the means: 95% interval "
        f"{100 * f['bootstrap_low']:.0f}-{100 * f['bootstrap_high']:.0f}%, "
        f">= 100% in {100 * f['bootstrap_at_least_1']:.0f}% of resamples",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", nargs="+", required=True, help="run directories")
    parser.add_argument("--treatment", nargs="+", required=True, help="run directories")
    parser.add_argument("--names", nargs=2, default=("true reward", "preferences"))
    parser.add_argument("--resamples", type=int, default=20_000)
    parser.add_argument("--out", default=None, help="also write the markdown here")
    args = parser.parse_args(argv)
    pairs = pair_by_seed(
        [read_run(d) for d in args.baseline], [read_run(d) for d in args.treatment]
    )
    figures = compare(
        np.array([b["return"] for b, _ in pairs]),
        np.array([t["return"] for _, t in pairs]),
        args.resamples,
    )
    text = report(pairs, figures, tuple(args.names))
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
