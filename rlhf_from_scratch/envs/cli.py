"""`rlhf train` and `rlhf plot`: the command-line face of the gym world.

Every field of TrainConfig and of each algorithm's config is a flag (`--n-epochs 4`,
`--no-anneal-lr`), its help taken from the field's comment; flags left out take the literature
defaults for the env family (`--show-config` prints them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing
from collections import Counter
from dataclasses import MISSING, fields

from rlhf_from_scratch.algos.registry import ALGOS
from rlhf_from_scratch.envs.defaults import DEFAULTS, PREFERENCE_TUNED, TUNED
from rlhf_from_scratch.envs.train import PREFERENCE_DEFAULTS, TrainConfig
from rlhf_from_scratch.preferences.loop import PreferenceConfig
from rlhf_from_scratch.utils.config_help import field_notes
from rlhf_from_scratch.utils.errors import ConfigError

_POSITIONAL = {"algo", "env", "algo_config", "preference_config"}


def _true_or_false(text: str) -> bool:
    """A yes/no value given as a word (`--fixed-length false`); bool('false') would be True."""
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return words[text.lower()]


def _flag_type(hint):
    """argparse keyword arguments for a dataclass field's type hint."""
    args = typing.get_args(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if set(args) == {bool, type(None)}:  # bool | None: true, false, or left to the env family
        return {"type": _true_or_false, "metavar": "{true,false}"}
    if typing.get_origin(hint) is tuple:
        return {"type": int, "nargs": "+"}
    if args and type(None) in args:  # float | None
        inner = next(a for a in args if a is not type(None))
        return {"type": inner}
    return {"type": hint}


def _preset_names() -> set[str]:
    """Settings whose default depends on the algorithm, the env family or the env."""
    tables = [*DEFAULTS.values(), *TUNED.values(), *PREFERENCE_DEFAULTS.values()]
    names = {key for table in tables for key in table}
    names |= {key for table in tables for key in table.get("algo", {})}
    for table in PREFERENCE_TUNED.values():  # an entry per algorithm is a table of its own
        names |= {key for key, value in table.items() if not isinstance(value, dict)}
        names |= {key for value in table.values() if isinstance(value, dict) for key in value}
    by_algo: dict[str, set] = {}
    for _, config_cls in ALGOS.values():
        for f in fields(config_cls):
            by_algo.setdefault(f.name, set()).add(repr(f.default))
    return names | {name for name, defaults in by_algo.items() if len(defaults) > 1}


def _algorithm_notes() -> dict[str, str]:
    """The algorithms' field comments: a comment every algorithm with the field shares is
    given once, else each is led by its algorithm's name."""
    owners = Counter(f.name for _, config_cls in ALGOS.values() for f in fields(config_cls))
    found: dict[str, dict[str, str]] = {}
    for algo, (_, config_cls) in ALGOS.items():
        for name, note in field_notes(config_cls).items():
            found.setdefault(name, {})[algo] = note
    notes = {}
    for name, by_algo in found.items():
        if len(by_algo) == owners[name] and len(set(by_algo.values())) == 1:
            notes[name] = next(iter(by_algo.values()))
        else:
            notes[name] = "; ".join(f"{algo}: {note}" for algo, note in by_algo.items())
    return notes


def _add_dataclass_flags(group, cls, seen: set[str], varying: set[str], notes=None) -> None:
    hints = typing.get_type_hints(cls)
    notes = field_notes(cls) if notes is None else notes
    for f in fields(cls):
        if f.name in _POSITIONAL or f.name in seen:
            continue
        seen.add(f.name)
        if f.name in varying or f.default is MISSING:
            default = "default: per algorithm and env (--show-config prints it)"
        else:
            default = f"default: {f.default}"
        note = notes.get(f.name)
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            help=(f"{note}; {default}" if note else default).replace("%", "%%"),
            **_flag_type(hints[f.name]),
        )


def add_commands(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train REINFORCE / A2C / TRPO / PPO on a Gymnasium env",
        description="Train a policy-gradient algorithm on a Gymnasium env; writes a run directory.",
    )
    train.add_argument("--algo", default="ppo", help=f"one of {', '.join(ALGOS)} (default ppo)")
    train.add_argument(
        "--env", default="CartPole-v1", help="a Gymnasium id, e.g. Hopper-v5, Pong-v5"
    )
    train.add_argument(
        "--run-dir",
        default=None,
        help="where config, metrics, checkpoints go; default: runs/ALGO-ENV-sSEED-TIME",
    )
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--family-defaults",
        action="store_true",
        help="the env family's defaults even where tuned settings for this env exist",
    )
    train.add_argument(
        "--show-config",
        action="store_true",
        help="print every setting the run would use, defaults included, as JSON, and stop",
    )
    seen: set[str] = set()
    varying = _preset_names()
    _add_dataclass_flags(train.add_argument_group("training"), TrainConfig, seen, varying)
    algo_group = train.add_argument_group("algorithm (each applies to the algorithms that have it)")
    algorithm_notes = _algorithm_notes()
    for _, config_cls in ALGOS.values():
        _add_dataclass_flags(algo_group, config_cls, seen, varying, algorithm_notes)
    _add_dataclass_flags(
        train.add_argument_group("learning from preferences (with --reward preferences)"),
        PreferenceConfig,
        seen,
        varying,
    )
    train.set_defaults(func=run_train)

    plot = commands.add_parser("plot", help="learning curves of run directories as a PNG")
    plot.add_argument(
        "run_dirs", nargs="+", help="run directories (seeds of one config are averaged)"
    )
    plot.add_argument(
        "--metric",
        default="episodic_return",
        help="a column of metrics.jsonl, e.g. rm_val_accuracy; default: episodic_return",
    )
    plot.add_argument(
        "--out", default="learning_curves.png", help="the PNG; default: learning_curves.png"
    )
    plot.add_argument("--title", default=None, help="the plot's title")
    plot.add_argument(
        "--names",
        nargs="+",
        default=None,
        help="the curves' names in the legend, one per curve, in the order of each curve's "
        "first run directory; default: named by their settings",
    )
    plot.set_defaults(func=run_plot)


def run_train(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from rlhf_from_scratch.algos.registry import get_algo
    from rlhf_from_scratch.envs.train import all_settings, default_config, train

    _, algo_cls = get_algo(args.algo)
    algo_fields = {f.name for f in fields(algo_cls)}
    train_fields = {f.name for f in fields(TrainConfig)} - _POSITIONAL
    train_fields |= {f.name for f in fields(PreferenceConfig)}
    overrides = {}
    for name, value in vars(args).items():
        if value is None or name in (
            "func",
            "command",
            "algo",
            "env",
            "run_dir",
            "resume",
            "quiet",
            "family_defaults",
            "show_config",
        ):
            continue
        if name in train_fields or name in algo_fields:
            overrides[name] = tuple(value) if isinstance(value, list) else value
        else:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} is not a setting of {args.algo}")
    config = default_config(args.algo, args.env, args.family_defaults, **overrides)
    if args.show_config:
        print(json.dumps(all_settings(config), indent=2))
        return
    run_dir = args.run_dir or (
        f"runs/{args.algo}-{args.env.replace('/', '_')}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    bar = None  # made once the run has passed its checks: a refused run prints only its message

    def on_start(step: int) -> None:
        nonlocal bar
        bar = tqdm(
            total=config.total_steps,
            initial=step,
            unit="step",
            disable=args.quiet,
            dynamic_ncols=True,
        )

    def on_update(step: int, metrics: dict) -> None:
        bar.set_postfix(
            ret=f"{metrics.get('recent_return', float('nan')):.1f}",
            sps=f"{metrics['steps_per_second']:.0f}",
            refresh=False,
        )
        bar.update(min(step, config.total_steps) - bar.n)  # redraws at most ~10 times a second

    try:
        summary = train(config, run_dir, resume=args.resume, on_start=on_start, on_update=on_update)
    finally:
        if bar is not None:
            bar.close()
    print(f"run directory: {run_dir}")
    keys = ("eval_return_mean", "eval_return_std", "steps", "wall_seconds", "steps_per_second")
    print("  ".join(f"{k}={summary[k]:.4g}" for k in keys if k in summary), file=sys.stdout)


def run_plot(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.envs.train import comparable
    from rlhf_from_scratch.utils.plots import plot_runs

    path = plot_runs(
        args.run_dirs,
        args.out,
        metric=args.metric,
        title=args.title,
        names=args.names,
        canonical=comparable,
    )
    print(f"wrote {path}")
