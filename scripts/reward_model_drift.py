"""Has a preference run's reward model drifted? Its final ensemble on the labels, oldest to newest.

    python scripts/reward_model_drift.py RUN_DIR [RUN_DIR ...]

For each run (its newest checkpoint and its preference store), a markdown row: the held-out
pairs split by the order they were labelled into quarters, and for each quarter the ensemble's
accuracy and the correlation of r_hat with the true reward per step on that quarter's clips;
then the same two on the pool of newest clips (random pairs from it, labelled by which clip has
the larger true return, as the deterministic oracle would); then what the learner's reward adds
per step beyond the true reward, in the true reward's units, on the pool's steps
(`learner_bonus`); then the run's final evaluation return. The accuracy over all held-out pairs
(`rm_val_accuracy`) is mostly the early, easy pairs; a model that ranks the first quarter well
and the pool badly no longer tracks what the policy does now. Runs made since
`rm_val_accuracy_recent` is logged show the newest quarter at every update; this reads runs made
before, from their checkpoints. The true reward is read only to measure, as in training.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from rlhf_from_scratch.envs import make
from rlhf_from_scratch.envs.train import TrainConfig, build, build_preference_learner
from rlhf_from_scratch.preferences.loop import pearson
from rlhf_from_scratch.utils.errors import ConfigError
from rlhf_from_scratch.utils.rundir import final_return


def clip_steps(clips) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(obs, actions, true rewards) of the clips' steps before an episode's end, stacked."""
    keep = [c.alive() for c in clips]
    obs = torch.as_tensor(np.concatenate([c.obs[k] for c, k in zip(clips, keep)]))
    actions = torch.as_tensor(np.concatenate([c.actions[k] for c, k in zip(clips, keep)]))
    true = torch.as_tensor(np.concatenate([c.true_rewards[k] for c, k in zip(clips, keep)]))
    return obs, actions, true


def step_correlation(ensemble, clips) -> float:
    """corr(r_hat, r) over the steps of the clips (the steps before an episode's end)."""
    obs, actions, true = clip_steps(clips)
    return pearson(ensemble.reward(obs, actions), true)


def learner_bonus(learner, clips) -> float:
    """What the learner's reward pays per step beyond the true reward, in true-reward units:
    fit the reward the learner is given (r_hat, or the oracle's map with --oracle-reward) as
    beta r + alpha over the clips' steps; the reward is then beta (r + alpha / beta), so
    alpha / beta is paid for every step alive, an alive bonus on top of the env's own.

    For the oracle it is exact: r' = t (r - m) / s + b gives alpha / beta = b s / t - m (6 s - m
    with Walker2d's t = 0.1, b = 0.6). For a reward model whose r_hat correlates rho with r it is
    about b s / (t rho) - m (about: the members' mean has a std a little under t): the part of
    r_hat's fixed std that does not track r shrinks beta, so the same b buys more survival
    relative to progress."""
    obs, actions, true = clip_steps(clips)
    given = learner_rewards(learner, obs, actions, true)
    beta, alpha = np.polyfit(true.double().numpy(), given.double().numpy(), 1)
    return float(alpha / beta)


@torch.no_grad()
def learner_rewards(learner, obs, actions, true_rewards) -> torch.Tensor:
    """The reward a PreferenceLearner gives on T steps of one env ([T] each), before any return
    scaling: its `rewards` on a rollout made of them (the true rewards feed only its metrics and
    the --oracle-reward control)."""
    true = true_rewards.float()[:, None]  # one env: [T, 1]
    ones, zeros = torch.ones_like(true), torch.zeros_like(true)
    steps = SimpleNamespace(
        actions=actions.float()[:, None], true_rewards=true, mask=ones, terminated=zeros,
        truncated=zeros,
    )  # fmt: skip
    given, _ = learner.rewards(steps, obs.float()[:, None])
    return given[:, 0]


def oracle_pairs(clips, n: int, rng) -> list:
    """n random pairs of the clips as (id, clip, clip, mu), mu from the larger true return."""
    pairs = []
    for _ in range(n):
        i, j = rng.choice(len(clips), size=2, replace=False)
        a, b = clips[i], clips[j]
        ra, rb = a.true_rewards.sum(), b.true_rewards.sum()
        pairs.append((i, a, b, 1.0 if ra > rb else 0.0 if rb > ra else 0.5))
    return pairs


def read_run(run_dir: Path, what: str = "the policy"):
    """(config on the CPU, newest checkpoint's state) of any run directory; clear errors for a
    folder that is not one, or has no checkpoint to read `what` from."""
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise ConfigError(f"'{run_dir}' is not a run directory (no config.json)")
    # read on the CPU, whatever device the run trained on
    config = replace(TrainConfig(**json.loads(config_path.read_text())), device="cpu")
    checkpoints = sorted((run_dir / "checkpoints").glob("*.pt"))
    if not checkpoints:
        raise ConfigError(f"'{run_dir}' has no checkpoint to read {what} from")
    return config, torch.load(checkpoints[-1], map_location="cpu", weights_only=False)


def preference_learner(config: TrainConfig, state: dict, run_dir: Path):
    """The run's PreferenceLearner as its checkpoint left it, with the store open."""
    if config.reward != "preferences":
        raise ConfigError(f"'{run_dir}' learned from the {config.reward!r} reward, not preferences")
    store = Path(config.preference_config.get("preference_store") or run_dir / "preferences.sqlite")
    if not store.exists():  # checked here: opening a store that is not there would make one
        raise ConfigError(f"'{run_dir}' has no preference store ({store}) to read the labels from")
    envs = make.make_vec_env(config.env, 1, config.seed)  # for its spaces only
    learner = build_preference_learner(config, envs, run_dir)
    envs.close()
    learner.load_state_dict(state["learner"])
    return learner


def load_preference_run(run_dir: Path):
    """(config, newest checkpoint's state, its PreferenceLearner with the store open) of a
    preference run."""
    config, state = read_run(run_dir, "the reward model")
    return config, state, preference_learner(config, state, run_dir)


def load_run(run_dir: Path):
    """(config, newest checkpoint's state, its policy, its PreferenceLearner or None) of any run:
    the learner, with its store closed, only for a preference run."""
    config, state = read_run(run_dir)
    learner = None
    if config.reward == "preferences":
        learner = preference_learner(config, state, run_dir)
        learner.store.close()
    envs, policy, *_ = build(config)
    envs.close()
    policy.load_state_dict(state["policy"])
    return config, state, policy, learner


def drift(run_dir: Path, pool_pairs: int = 2000, seed: int = 0) -> dict:
    _, state, learner = load_preference_run(run_dir)
    ensemble, labelled = learner.ensemble, learner.store.segment_pairs()
    learner.store.close()
    if not labelled:
        raise ConfigError(f"'{run_dir}': its preference store holds no labels")
    row = {"run": run_dir.name, "step": int(state["step"]), "labels": len(labelled)}
    row["eval_return"] = final_return(run_dir)  # a finished run's, for comparison
    held_out = [pair for pair in labelled if pair[0] in ensemble.val_ids]
    # quarters oldest to newest; the newest is the last ceil(n / 4) pairs, as in training's
    # rm_val_accuracy_recent, so the two agree on a run that logged it
    parts = [np.sort(p) for p in np.array_split(np.arange(len(held_out))[::-1], 4)][::-1]
    for quarter, part in enumerate(parts, start=1):
        pairs = [held_out[i] for i in part]
        if not pairs:  # fewer than four held-out pairs
            row[f"acc_q{quarter}"] = row[f"corr_q{quarter}"] = float("nan")
            continue
        row[f"acc_q{quarter}"] = ensemble.evaluate(pairs)["rm_val_accuracy"]
        row[f"corr_q{quarter}"] = step_correlation(
            ensemble, [c for _, a, b, _ in pairs for c in (a, b)]
        )
    pool = learner.pool.segments
    pairs = oracle_pairs(pool, pool_pairs, np.random.default_rng(seed))
    row["acc_pool"] = ensemble.evaluate(pairs)["rm_val_accuracy"]
    row["corr_pool"] = step_correlation(ensemble, pool)
    row["bonus_pool"] = learner_bonus(learner, pool)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="preference run directories")
    parser.add_argument("--pool-pairs", type=int, default=2000, help="pairs drawn from the pool")
    args = parser.parse_args()
    quarters = " | ".join(f"q{q} acc / corr" for q in range(1, 5))
    print(
        f"| run | step | labels | held-out {quarters} | pool acc / corr "
        "| pool: extra reward per step alive (true units) | eval return |"
    )
    print("|---|---|---|" + "---|" * 7)
    for run_dir in args.runs:
        r = drift(run_dir, args.pool_pairs)
        cells = [f"{r[f'acc_{k}']:.3f} / {r[f'corr_{k}']:.2f}" for k in ("q1", "q2", "q3", "q4")]
        cells.append(f"{r['acc_pool']:.3f} / {r['corr_pool']:.2f}")
        cells.append(f"{r['bonus_pool']:+.2f}")
        cells.append("-" if r["eval_return"] is None else f"{r['eval_return']:.0f}")
        print(f"| {r['run']} | {r['step']} | {r['labels']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
