"""The interleaved loop of Christiano et al. 2017: the policy learns from a reward model that
learns from comparisons of the policy's own clips.

    every update:
        rollout                  -> the learner's reward is r_hat(o, a), never the env's
        clips of the rollout     -> the pool of recent clips (short rollouts joined first)
        labels due by step T     -> pairs chosen (random / disagreement), labelled, stored
        new labels               -> the ensemble is refitted
    the true reward is used only by the synthetic labeler and for evaluation.

Two ways to refit (reward_model): by default `rm_epochs` passes over every label whenever new
labels arrive; with `rm_labels_per_step` (the Atari default, 0.1 as in the paper) the ensemble
trains a little at every update, on `rm_labels_per_step` labels per env step, so a run with
thousands of labels of Atari frames costs the same per step at the end as at the start.

Envs that end an episode when the agent falls (CartPole, Hopper, ...) would leak the reward
through episode length, so by default preference runs use fixed-length episodes (termination
ignored until the time limit; the paper did the same): falling then shows up in the clips,
where the labeler can see it. Evaluation still runs on the unmodified env. Two alternatives keep
termination: an alive bonus added to r_hat (the default on Hopper and Walker2d, where it beat
fixed-length episodes by far: envs/defaults.py PREFERENCE_TUNED), or clips that run past the
end so that the labels decide the bonus (`absorbing`, see reward_model).

A control, `oracle_reward`, gives the learner the true reward through the same normalisation as
r_hat, so that a gap to true-reward RL splits into what the reward model's error costs and what
the rest of this loop costs (benchmarks/preferences/oracle).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from rlhf_from_scratch.preferences.query import QUERY_METHODS, labels_wanted, select_pairs
from rlhf_from_scratch.preferences.reward_model import RewardEnsemble, RewardModelConfig
from rlhf_from_scratch.preferences.segments import SegmentPool, cut_segments
from rlhf_from_scratch.preferences.store import PreferenceStore
from rlhf_from_scratch.preferences.teachers import PRESETS, make_teacher
from rlhf_from_scratch.utils.errors import check, unknown


@dataclass
class PreferenceConfig:
    labels: int = 700  # the total label budget
    labeler: str = "oracle"  # a simulated teacher: oracle, stoc, mistake, myopic, skip, equal
    query: str = "random"  # random or disagreement
    segment_seconds: float = 1.5  # clip length in simulated seconds (steps from the env's dt)
    segment_steps: int | None = None  # overrides segment_seconds (Atari: 25)
    pool_size: int = 1000  # recent clips kept to draw queries from
    initial_fraction: float = 0.25  # share of the labels asked at the start (untrained policy)
    label_t0: float = 2e6  # T0 of the label rate c / (T + T0), in env steps
    preference_store: str | None = None  # a SQLite file (None: RUN_DIR/preferences.sqlite)
    rm_members: int = 3  # reward models in the ensemble, each on a bootstrap resample
    rm_epochs: int = 8  # passes over the labels at each refit
    rm_lr: float = 3e-4  # Adam step size of the reward models
    rm_weight_decay: float = 1e-4  # L2 on the reward models' weights (the start, when adapted)
    rm_adaptive_l2: bool = False  # the paper's L2 rule: after each refit L2 is doubled while
    # the held-out loss is over 1.5x the training loss, halved while under 1.1x (refits by epochs
    # only; reward_model.adapt_l2)
    rm_dropout: float = 0.0  # dropout on the reward models' hidden layers

    # each member's Adam kept from refit to refit instead of a fresh one at each refit by
    # epochs: a fresh Adam's first steps have one size whatever the gradient's, so refits on
    # decided pairs keep widening their margin (the learned alive bonus: 21 per step after 200
    # refits on fixed labels, 7 with this). Off: on CartPole it halved the bonus's growth but
    # the policies did no better, -28 per run unscaled, -49 scaled
    # (benchmarks/preferences/keep_adam)
    rm_keep_adam: bool = False

    # r_hat normalised to this std on recent clips
    rm_target_std: float = 1.0
    # an alive bonus added to r_hat, for envs whose episodes end early (see reward_model)
    rm_target_mean: float = 0.0
    # clips may run past an episode's end (the absorbing state), so labels see falls and the
    # reward model learns what staying alive is worth (see reward_model); with --fixed-length
    # false, for envs whose episodes end early
    absorbing: bool = False
    # r_hat then goes through the learner's return scaling (--normalize-reward), as the true
    # reward does. Off: on Hopper it made 1400 labels worse, 67% of RL against 97%
    # (benchmarks/preferences/hopper). On by default with --absorbing (default_config), where
    # the learned alive bonus grows with every refit (benchmarks/preferences/four_algorithms)
    scale_returns: bool = False
    # r_hat = mean - lambda std over the members: pays less where they disagree (see reward_model)
    rm_uncertainty_penalty: float = 0.0
    # > 0: train the reward model at every update on this many labels per env step, drawn from
    # the newest rm_buffer labels, instead of rm_epochs passes over all of them when labels
    # arrive (the paper's Atari predictor: about 1 label per 10 RL steps, the last 3000 labels)
    rm_labels_per_step: float = 0.0
    rm_buffer: int | None = None  # with rm_labels_per_step: the newest labels trained on
    rm_val_every: int = 10  # with rm_labels_per_step: score the held-out pairs every N updates
    rm_actions: bool = True  # r_hat(o, a); --no-rm-actions: r_hat(o), the observation alone
    rm_clip_actions: bool = True  # r_hat reads the action the env executed (the policy's
    # Gaussian sample clipped to the action space's bounds), as the labeler's reward does. Off
    # (the code before 2026-11-25): the raw sample, so a policy could raise r_hat by pushing its
    # mean past the bounds, where the env sees no difference (benchmarks/preferences/hopper)

    # a control, not a method: the learner gets the true reward, normalised as r_hat is (to
    # rm_target_std and rm_target_mean over the pool's clips at each refit), while labels are
    # still asked and the ensemble fitted and scored as usual. What a perfect reward model would
    # give: the part of a gap to true-reward RL that better labels cannot close
    # (benchmarks/preferences/oracle)
    oracle_reward: bool = False
    # with oracle_reward: standardise the true reward by this fixed mean and std for the whole
    # run, instead of by the pool's at each refit, so the learner's reward is one affine map of
    # the true reward (a control for what the moving standardisation costs)
    oracle_mean: float | None = None
    oracle_std: float | None = None  # with oracle_mean: the fixed std the true reward is divided by

    def validate(self) -> None:
        check(self.labels > 0, f"the label budget must be > 0, got {self.labels}")
        check(
            self.query in QUERY_METHODS, f"query must be one of {QUERY_METHODS}, got {self.query!r}"
        )
        if self.labeler not in PRESETS:
            raise unknown("labeler", self.labeler, PRESETS)
        check(0 <= self.initial_fraction <= 1, "initial_fraction must be in [0, 1]")
        check(
            self.rm_labels_per_step >= 0,
            f"rm_labels_per_step must be >= 0 (0: refit by epochs), got {self.rm_labels_per_step}",
        )
        check(self.rm_val_every > 0, f"rm_val_every must be > 0, got {self.rm_val_every}")
        check(
            not (self.rm_adaptive_l2 and self.rm_labels_per_step),
            "--rm-adaptive-l2 (set by the flag or by the env's preference recipe: --show-config) "
            "adjusts L2 after each refit by epochs, and --rm-labels-per-step "
            f"{self.rm_labels_per_step} trains the reward model a little at every update instead: "
            "set --rm-labels-per-step 0 or add --no-rm-adaptive-l2",
        )
        check(
            not (self.oracle_reward and (self.absorbing or self.rm_uncertainty_penalty)),
            "--oracle-reward gives the learner the true reward with r_hat's scale and alive bonus: "
            "--absorbing (a bonus the labels decide) and --rm-uncertainty-penalty (the members' "
            "disagreement) have nothing to act on there; drop them or --oracle-reward",
        )
        fixed = (self.oracle_mean is not None, self.oracle_std is not None)
        if any(fixed):
            check(
                all(fixed) and self.oracle_reward,
                "--oracle-mean and --oracle-std fix the oracle's standardisation: give both, "
                "with --oracle-reward",
            )
            check(self.oracle_std > 0, f"--oracle-std must be > 0, got {self.oracle_std}")
        self.reward_model().validate()

    def reward_model(self) -> RewardModelConfig:
        return RewardModelConfig(
            members=self.rm_members,
            epochs=self.rm_epochs,
            lr=self.rm_lr,
            weight_decay=self.rm_weight_decay,
            adaptive_l2=self.rm_adaptive_l2,
            dropout=self.rm_dropout,
            target_std=self.rm_target_std,
            target_mean=self.rm_target_mean,
            absorbing=self.absorbing,
            uncertainty_penalty=self.rm_uncertainty_penalty,
            buffer=self.rm_buffer,
            actions=self.rm_actions,
        )


def pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double() - x.double().mean(), y.double() - y.double().mean()
    denominator = (x.norm() * y.norm()).item()
    return (x @ y).item() / denominator if denominator > 0 else float("nan")


class PreferenceLearner:
    def __init__(
        self,
        config: PreferenceConfig,
        task: str,
        obs_shape: tuple[int, ...],
        action_dim: int,
        discrete: bool,
        segment_length: int,
        total_steps: int,
        store_path: str,
        seed: int,
        device: str = "cpu",
        action_bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        config.validate()
        self.config, self.total_steps, self.length = config, total_steps, segment_length
        # (low, high) of a Box action space: what the env clips the policy's samples to
        self.action_bounds = None
        if action_bounds is not None and config.rm_clip_actions:
            self.action_bounds = tuple(
                torch.as_tensor(b, dtype=torch.float32) for b in action_bounds
            )
        self.rng = np.random.default_rng(seed)
        self.teacher = make_teacher(config.labeler, seed=seed + 1)
        self.store = PreferenceStore(store_path, task)
        # Frames stay out of the checkpoint (64 MiB of them would triple its size): an Atari
        # run cannot resume exactly anyway (its envs cannot be pickled, episodes restart), and
        # one PPO update refills the pool with ~80 clips before any label is asked.
        image = len(obs_shape) == 3
        self.pool = SegmentPool(config.pool_size, self.rng, checkpoint_bytes=0 if image else None)
        self.ensemble = RewardEnsemble(
            obs_shape, action_dim, discrete, config.reward_model(), seed=seed, device=device
        )
        self.fitted = False
        self.batch_credit = 0.0  # rm_labels_per_step: labels earned but not yet trained on
        self.labels_fitted = 0  # labels in the store at the last refit
        self.fit_metrics: dict[str, float] = {}
        self.labelled: list = []  # the store's clip comparisons, read once each
        self.recent: list[dict] = []  # rollouts shorter than a clip, waiting to be joined
        # oracle_reward: the true reward's mean and std over the pool's clips at the last refit
        # (none before the first: the true reward as it is), or the fixed ones from the start
        self.oracle_scale: tuple[float, float] = (0.0, 1.0)
        self.measure_oracle_scale()

    @property
    def labels_used(self) -> int:
        return len(self.store)

    def executed(self, actions: torch.Tensor) -> torch.Tensor:
        """The actions as the env executed them: clipped to the bounds (continuous actions)."""
        if self.action_bounds is None:
            return actions
        low, high = (b.to(actions.device) for b in self.action_bounds)
        return torch.maximum(torch.minimum(actions, high), low)

    def add_clips(self, rollout, raw_obs: torch.Tensor) -> None:
        """Random clips of the newest steps into the pool.

        A rollout shorter than a clip (A2C's 5 steps) waits: consecutive rollouts continue the
        same episodes, so they are joined end to end until they hold two clips' worth of steps.
        """
        self.recent.append(
            {
                "obs": raw_obs,
                "actions": self.executed(rollout.actions),
                "true_rewards": rollout.true_rewards,
                "mask": rollout.mask,
                "terminated": rollout.terminated,
                "truncated": rollout.truncated,
            }
        )
        steps = sum(len(piece["mask"]) for piece in self.recent)
        if steps < self.length or (len(self.recent) > 1 and steps < 2 * self.length):
            return
        block = {key: torch.cat([piece[key] for piece in self.recent]) for key in self.recent[0]}
        self.recent = []
        T, N = block["mask"].shape
        count = max(2, 2 * T * N // self.length)
        self.pool.add(
            cut_segments(
                block["obs"],
                block["actions"],
                block["true_rewards"],
                block["mask"],
                torch.maximum(block["terminated"], block["truncated"]),
                self.length,
                count,
                self.rng,
                terminated=block["terminated"] if self.config.absorbing else None,
            )
        )

    def label_due(self, step: int) -> int:
        """Ask the teacher for the labels due by `step`; returns how many were added."""
        c = self.config
        due = (
            labels_wanted(step, c.labels, self.total_steps, c.initial_fraction, c.label_t0)
            - self.labels_used
        )
        if due <= 0 or len(self.pool) < 2:
            return 0
        pairs = select_pairs(self.pool, due, c.query, self.ensemble if self.fitted else None)
        added = 0
        for a, b in pairs:
            mu = self.teacher.label(a.true_rewards, b.true_rewards)
            if mu is None:  # the teacher skipped this query: it costs no label
                continue
            self.store.add_segment_pair(a, b, mu, source=f"synthetic:{c.labeler}")
            added += 1
        return added

    def read_new_labels(self) -> None:
        # the store only grows: read (and decompress) just the comparisons added since last time
        after = self.labelled[-1][0] if self.labelled else 0
        self.labelled += self.store.segment_pairs(after=after)

    def refit(self) -> dict[str, float]:
        """rm_epochs passes over every label (also the first fit of a budgeted run)."""
        self.read_new_labels()
        if not self.labelled:
            return {}
        self.fit_metrics = self.ensemble.fit(
            self.labelled, self.pool.segments, fresh_optimizers=not self.config.rm_keep_adam
        )
        self.fitted, self.labels_fitted = True, len(self.labelled)
        self.measure_oracle_scale()
        return self.fit_metrics

    def train_some(self, steps: int) -> dict[str, float]:
        """rm_labels_per_step x steps labels' worth of minibatches for each member."""
        self.read_new_labels()
        batch = self.ensemble.config.batch_pairs
        self.batch_credit += self.config.rm_labels_per_step * steps / batch
        batches = int(self.batch_credit)
        self.batch_credit -= batches
        validate = self.ensemble.fits % self.config.rm_val_every == 0
        metrics = self.ensemble.fit_batches(
            self.labelled, self.pool.segments, batches, validate=validate
        )
        self.fit_metrics.update(metrics)
        self.labels_fitted = len(self.labelled)
        self.measure_oracle_scale()
        return self.fit_metrics

    def measure_oracle_scale(self) -> None:
        """oracle_reward: the true reward's mean and std over the pool's clips (their steps in
        the episode), taken when the reward model is normalised, so the two change together;
        or the fixed oracle_mean and oracle_std."""
        c = self.config
        if c.oracle_mean is not None:  # fixed for the whole run
            self.oracle_scale = (c.oracle_mean, c.oracle_std)
            return
        if not c.oracle_reward or not self.pool.segments:
            return
        true = np.concatenate([s.true_rewards[s.alive()] for s in self.pool.segments])
        self.oracle_scale = (float(true.mean()), float(true.std()) + 1e-8)

    def observe(self, rollout, raw_obs: torch.Tensor, step: int) -> dict[str, float]:
        """Clips into the pool, the labels due, a refit if any arrived (or, with
        rm_labels_per_step, a little training at every update)."""
        self.add_clips(rollout, raw_obs)
        added = self.label_due(step)
        if self.config.rm_labels_per_step and self.fitted:
            self.train_some(rollout.mask.numel())
        # a resumed run may find labels stored after its checkpoint: fit them now
        elif added or not self.fitted or self.labels_used > self.labels_fitted:
            self.refit()
        return {"labels_used": self.labels_used, "labels_added": added, **self.fit_metrics}

    @torch.no_grad()
    def rewards(self, rollout, raw_obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """r_hat for every step of the rollout [T, N], and how well it tracks the true reward."""
        T, N = rollout.mask.shape
        obs, actions = raw_obs.flatten(0, 1), self.executed(rollout.actions).flatten(0, 1)
        members = self.ensemble.member_rewards(obs, actions)  # [M, T*N]
        r_hat = self.ensemble.combine(members).view(T, N) * rollout.mask
        real = rollout.mask.flatten() > 0
        # the reward model's own, also when oracle_reward sets the learner's reward below
        metrics = {
            "rm_true_corr": pearson(r_hat.flatten()[real], rollout.true_rewards.flatten()[real]),
            "rm_disagreement": members.std(0)[real].mean().item() if len(members) > 1 else 0.0,
            "true_reward_mean": rollout.true_rewards.flatten()[real].mean().item(),
            # ~0 when normalised to mean 0; with --absorbing, the learned alive bonus per step
            "rm_reward_mean": r_hat.flatten()[real].mean().item(),
        }
        if self.config.oracle_reward:
            mean, std = self.oracle_scale
            c = self.config
            standard = (rollout.true_rewards.to(r_hat) - mean) / std
            r_hat = (standard * c.rm_target_std + c.rm_target_mean) * rollout.mask
        return r_hat, metrics

    def state_dict(self) -> dict:
        return {
            "ensemble": self.ensemble.state_dict(),
            "val_ids": sorted(self.ensemble.val_ids),
            "rng": self.rng.bit_generator.state,
            "ensemble_rng": self.ensemble.rng.bit_generator.state,
            "teacher_rng": self.teacher.rng.bit_generator.state,
            "pool": self.pool.state_dict(),
            "recent": self.recent,
            "fitted": self.fitted,
            "labels_fitted": self.labels_fitted,
            "fit_metrics": self.fit_metrics,
            "config": asdict(self.config),
            "batch_credit": self.batch_credit,
            "rm_optimizers": self.ensemble.optimizer_states(),
            "rm_fits": self.ensemble.fits,
            "rm_weight_decay": self.ensemble.weight_decay,
            "oracle_scale": self.oracle_scale,
        }

    def load_state_dict(self, state: dict) -> None:
        self.ensemble.load_state_dict(state["ensemble"])
        self.ensemble.val_ids = set(state["val_ids"])
        self.rng.bit_generator.state = state["rng"]
        self.ensemble.rng.bit_generator.state = state["ensemble_rng"]
        self.teacher.rng.bit_generator.state = state["teacher_rng"]
        self.fitted, self.fit_metrics = state["fitted"], state["fit_metrics"]
        self.labels_fitted = state.get("labels_fitted", self.labels_used)
        if "pool" in state:  # checkpoints before the pool was saved resume with an empty one
            self.pool.load_state_dict(state["pool"])
        self.recent = state.get("recent", [])
        self.batch_credit = state.get("batch_credit", 0.0)
        self.ensemble.weight_decay = state.get("rm_weight_decay", self.ensemble.weight_decay)
        self.oracle_scale = tuple(state.get("oracle_scale", self.oracle_scale))
        if "rm_optimizers" in state:
            self.ensemble.load_optimizer_states(state["rm_optimizers"])
            self.ensemble.fits = state["rm_fits"]
