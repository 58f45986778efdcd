"""Learning curves from run directories (made from metrics.jsonl, never from a live run).

Runs whose config.json differ only in the seed (and bookkeeping such as checkpoint_every) are
one curve: the mean over seeds, with the min-max band, on a common grid of steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlhf_from_scratch.utils.errors import ConfigError
from rlhf_from_scratch.utils.rundir import RUNTIME_SETTINGS, read_metrics

# Runs differing only in these are seeds of one curve.
BOOKKEEPING = RUNTIME_SETTINGS | {"seed"}


def same_settings(a: dict, b: dict) -> bool:
    """Two configs describe the same training, up to the seed and bookkeeping.

    A top-level field that one config lacks matches anything: that run is older than the field
    (a config records every top-level field of its day). Nested settings (algo_config,
    preference_config) record only what differs from the defaults, so there a missing key is
    the default and must match exactly.
    """
    shared = (a.keys() & b.keys()) - BOOKKEEPING
    return all(a[key] == b[key] for key in shared)


def group_runs(
    run_dirs: list[str | Path], canonical: Callable[[dict], dict] | None = None
) -> dict[str, list[Path]]:
    """Label -> run directories with the same settings (see same_settings), in the order each
    group's first run directory was given. `canonical`, where given, maps each config.json first
    (as RunDir compares them, e.g. envs.train.comparable: a setting named at its default equal
    to one left out)."""
    groups: list[tuple[dict, list[Path]]] = []  # (the first run's config, its runs)
    for run_dir in map(Path, run_dirs):
        config_path = run_dir / "config.json"
        if not config_path.exists():
            raise ConfigError(f"'{run_dir}' is not a run directory (no config.json)")
        config = json.loads(config_path.read_text())
        if canonical is not None:
            config = canonical(config)
        for first, runs in groups:
            if same_settings(first, config):
                runs.append(run_dir)
                break
        else:
            groups.append((config, [run_dir]))
    base: dict[str, list[int]] = {}  # label -> the groups that share it
    for i, (config, _) in enumerate(groups):
        base.setdefault(_label(config), []).append(i)
    labels: dict[int, str] = {}  # group -> its label
    for label, members in base.items():
        if len(members) == 1:
            labels[members[0]] = label
            continue
        # same label, different settings: name the settings that differ, as few as tell the
        # curves apart (in name order), and how many more differ
        flat = [_flatten(groups[i][0]) for i in members]
        # a top-level field some run predates tells nothing apart (see same_settings)
        top = {n for i in members for n, v in groups[i][0].items() if not isinstance(v, dict)}
        differ = sorted(
            {
                n
                for f in flat
                for n in f
                if len({str(g.get(n)) for g in flat if n in g or n not in top}) > 1
            }
            - BOOKKEEPING
        )
        named = 1
        while named < len(differ) and len({_detail(f, differ[:named]) for f in flat}) < len(flat):
            named += 1
        more = f" (+{len(differ) - named} more settings)" if named < len(differ) else ""
        for i, settings in zip(members, flat):
            labels[i] = f"{label}, {_detail(settings, differ[:named])}{more}"
    return {labels[i]: runs for i, (_, runs) in enumerate(groups)}


def named_groups(
    run_dirs: list[str | Path],
    names: list[str] | None = None,
    canonical: Callable[[dict], dict] | None = None,
) -> dict:
    """group_runs, its labels replaced by `names` (one per group, in group_runs' order) if
    given."""
    groups = group_runs(run_dirs, canonical)
    if names is None:
        return groups
    if len(names) != len(groups):
        listed = "; ".join(f"{i + 1}. {label}" for i, label in enumerate(groups))
        curves = f"{len(groups)} curve" + ("s" if len(groups) != 1 else "")
        raise ConfigError(
            f"{len(names)} names for {curves}: give one per curve, in the order of each "
            f"curve's first run directory ({listed})"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"the curves' names must differ: {', '.join(map(repr, repeated))} given twice"
        )
    return dict(zip(names, groups.values()))


def _label(config: dict) -> str:
    label = config.get("label") or f"{config.get('algo', '?')} {config.get('env', '')}".strip()
    if config.get("reward") == "preferences":
        prefs = config.get("preference_config", {})
        label += f", {prefs.get('labels', 700)} labels ({prefs.get('query', 'random')})"
        if prefs.get("oracle_reward"):  # a control: the learner saw the true reward
            label += ", oracle reward"
    elif config.get("reward", "env") == "env":  # runs older than the field: env reward
        label += ", true reward"
    return label


def _detail(settings: dict, names: list[str]) -> str:
    return ", ".join(f"{n}={settings.get(n, 'default')}" for n in names)


def _flatten(config: dict) -> dict:
    """{'algo_config': {'lr': 1e-3}} -> {'lr': 1e-3}: the settings by their flag names."""
    flat = {}
    for name, value in config.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[name] = value
    return flat


def curve(run_dir: Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in read_metrics(run_dir) if metric in r]
    return np.array([r["step"] for r in rows], float), np.array([r[metric] for r in rows], float)


def trailing_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` points at each point (fewer at the start; no zero padding)."""
    if window <= 1:
        return y
    sums = np.cumsum(np.concatenate([[0.0], y]))
    counts = np.minimum(np.arange(1, len(y) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(y) + 1) - counts]) / counts


def plot_runs(
    run_dirs: list[str | Path],
    out: str | Path,
    metric: str = "episodic_return",
    title: str | None = None,
    smooth: int = 5,
    names: list[str] | None = None,
    canonical: Callable[[dict], dict] | None = None,
) -> Path:
    """One curve per group of runs (group_runs), named by its settings or by `names`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, dirs in named_groups(run_dirs, names, canonical).items():
        curves = [curve(d, metric) for d in dirs]
        curves = [(x, y) for x, y in curves if len(x)]
        if not curves:
            continue
        end = min(x[-1] for x, _ in curves)
        grid = np.linspace(min(x[0] for x, _ in curves), end, 200)
        ys = []
        for x, y in curves:
            ys.append(np.interp(grid, x, trailing_mean(y, smooth)))
        ys = np.array(ys)
        line = ax.plot(grid, ys.mean(0), label=f"{label} ({len(curves)} seed(s))")[0]
        if len(curves) > 1:
            ax.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or metric.replace("_", " "))
    ax.grid(alpha=0.3)
    labels = ax.get_legend_handles_labels()[1]
    if max(map(len, labels), default=0) > 60:  # long labels (settings named): below the axes
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.2))
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
