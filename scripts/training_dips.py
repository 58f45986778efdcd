"""Where a run lost ground in the middle of training, and how closely r_hat followed the true
reward there: reward hacking, when it happens, read from the logs.

    python scripts/training_dips.py RUN_DIR [RUN_DIR ...] [--window 50000] [--out dips.md]

The training return (metrics `episodic_return`, the stochastic policy's true return) is averaged
over windows of `--window` env steps. A run's worst dip is the largest fall of a window's mean
below the best window before it; reported with where it happened, the correlation of r_hat with
the true reward on fresh rollouts in that window (`rm_true_corr`, preference runs only), the
lowest such correlation after the first 15% of the run, and the final deterministic evaluation
(summary.json `eval_return_mean`). A policy that climbs r_hat while the true return falls, and
recovers once new labels correct r_hat, shows as a dip with a low correlation beside it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from rlhf_from_scratch.utils.rundir import final_return, read_metrics


def windows(rows: list[dict], width: int) -> list[dict]:
    """Per window of `width` steps (in step order): its start, the mean training return and
    the mean rm_true_corr of its rows (nan where it has none). A last window that the run covers
    for less than half its width (the few steps past a round total) is left out: its mean rests
    on an episode or two."""
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        grouped.setdefault(int(row["step"]) // width, []).append(row)
    last = max(grouped)
    if len(grouped) > 1 and max(int(r["step"]) for r in grouped[last]) - last * width < width // 2:
        del grouped[last]

    def mean(rs: list[dict], key: str) -> float:
        values = [r[key] for r in rs if key in r]
        return float(np.mean(values)) if values else math.nan

    return [
        dict(start=k * width, ret=mean(rs, "episodic_return"), corr=mean(rs, "rm_true_corr"))
        for k, rs in sorted(grouped.items())
    ]


def worst_dip(returns: list[float]) -> tuple[float, int | None]:
    """The largest fall below the best earlier value, and the index where it is reached:
    (0.0, None) for a curve that never falls. nan values (windows without an episode) are
    skipped."""
    peak, drop, where = -math.inf, 0.0, None
    for i, value in enumerate(returns):
        if math.isnan(value):
            continue
        if peak - value > drop:
            drop, where = peak - value, i
        peak = max(peak, value)
    return drop, where


def describe(run_dir: str, width: int) -> dict:
    rows = read_metrics(run_dir)
    if not rows:
        raise SystemExit(f"{run_dir}: no metrics.jsonl(.gz) rows; is it a run directory?")
    wins = windows(rows, width)
    drop, where = worst_dip([w["ret"] for w in wins])
    last_step = max(int(r["step"]) for r in rows)
    later = [
        w["corr"] for w in wins if w["start"] >= 0.15 * last_step and not math.isnan(w["corr"])
    ]
    return dict(
        run=Path(run_dir).name,
        final=final_return(run_dir),
        drop=drop,
        at=None if where is None else wins[where]["start"],
        peak=None if where is None else wins[where]["ret"] + drop,
        corr_at=math.nan if where is None else wins[where]["corr"],
        corr_min=min(later) if later else math.nan,
    )


def _number(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.0f}"


def _corr(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def table(results: list[dict], width: int) -> str:
    lines = [
        f"| run | final eval | worst dip of the training return ({width / 1000:g}k-step windows) "
        "| from | at | corr(r_hat, r) there | lowest corr after 15% |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        at = "-" if r["at"] is None else f"{r['at'] / 1000:g}k"
        lines.append(
            f"| {r['run']} | {_number(r['final'])} | {r['drop']:.0f} | {_number(r['peak'])} | {at} "
            f"| {_corr(r['corr_at'])} | {_corr(r['corr_min'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--window", type=int, default=50_000, help="env steps per window")
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args()
    if args.window <= 0:
        parser.error(f"--window must be a positive number of env steps, got {args.window}")
    text = table([describe(d, args.window) for d in args.runs], args.window)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
