"""Figures and a markdown report of RLHF runs, made from their run directories only.

curves:   gold reward, reward-model score, KL to pi_SFT and grammaticality per update,
          one line per run (e.g. beta = 0 beside the KL-controlled run: reward hacking
          shows as the RM score rising while the gold reward and grammar fall)
samples:  the same held-out prompts answered before and after RL
"""

from __future__ import annotations

from pathlib import Path

from rlhf_from_scratch.utils.rundir import read_metrics

PANELS = (
    ("eval_gold_reward", "gold reward (held-out prompts)"),
    ("eval_rm_score", "reward-model score (normalised)"),
    ("eval_kl", "KL(pi || pi_SFT), nats / response"),
    ("eval_grammar", "grammaticality"),
)


def eval_curve(run_dir: str | Path, metric: str) -> tuple[list[int], list[float]]:
    """(updates, values) of an eval metric, the step-0 evaluation included."""
    xs, ys = [], []
    for row in read_metrics(run_dir):
        key = metric if metric in row else metric.removeprefix("eval_")
        if row["step"] == 0 and key in row:
            xs.append(0)
            ys.append(row[key])
        elif metric in row:
            xs.append(row["step"])
            ys.append(row[metric])
    return xs, ys


def plot_rlhf(runs: dict[str, str | Path], out: str | Path, title: str = "") -> Path:
    """A 2 x 2 figure of PANELS for labelled run directories; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (metric, name) in zip(axes.flat, PANELS, strict=True):
        for label, run_dir in runs.items():
            xs, ys = eval_curve(run_dir, metric)
            if xs:
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("RL update")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def samples_markdown(before: dict, after: dict, n: int = 4) -> str:
    """Before/after answers to the same held-out prompts."""
    lines = []
    for b, a in list(zip(before["samples"], after["samples"], strict=False))[:n]:
        prompt = b["prompt"].split("\n")[0].removeprefix("Instruction: ")
        lines += [
            f"**{prompt}**",
            "",
            f"- SFT (gold {b['gold']:.2f}): `{b['response']}`",
            f"- RLHF (gold {a['gold']:.2f}): `{a['response']}`",
            "",
        ]
    return "\n".join(lines)


def metrics_table(rows: dict[str, dict]) -> str:
    """A markdown table of evaluation dicts (gold reward, RM score, KL, grammar, ...)."""
    keys = ("gold_reward", "win_rate", "rm_score", "kl", "grammar", "repetition", "ended")
    out = ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, ev in rows.items():
        out.append(f"| {name} | " + " | ".join(fmt(ev.get(k)) for k in keys) + " |")
    return "\n".join(out)
