"""A reward-model ensemble fitted to segment comparisons (Christiano et al. 2017).

Lectures 000 and 004. Each member r_hat(o, a) predicts a reward per step; a clip's predicted
return is the sum over its steps, and the probability that clip 1 is preferred is

    P_hat[s1 > s2] = eps/2 + (1 - eps) sigma( sum_t r_hat(o1_t, a1_t) - sum_t r_hat(o2_t, a2_t) )

with eps = 0.1: the labeler answers at random 10% of the time (bounding one wrong label's
loss). Fitting minimises the Bradley-Terry loss (maths/bradley_terry.py) with labels mu.

As in the paper: an ensemble of 3 members, each trained on a bootstrap resample of the
labelled pairs; 1/e of the pairs held out for validation; L2 regularisation (weight decay),
optionally adjusted after each refit so that the held-out loss stays between 1.1 and 1.5 times
the training loss (`adaptive_l2`, the paper's appendix A: see `adapt_l2`), and optional
dropout; each member's output normalised to zero mean and a fixed std over recent clips, and
the learner's reward is the mean of the normalised members (plus an optional constant,
`target_mean`, for envs whose episodes end early: see RewardModelConfig).

Clips that show an episode's end (`absorbing`): Bradley-Terry cannot see a constant added to
every step's reward (lecture 003's quiz), so labels never say what being alive is worth. A
clip that goes on after its episode ended, in an absorbing state with a learned reward r_abs,

    R_hat(clip) = sum_{t < k} r_hat(o_t, a_t) + (H - k) r_abs        (k steps before the end)

changes that: two clips with different k differ by (k1 - k2)(r_alive - r_abs), so the labels
fix r_hat relative to r_abs. The learner's reward is then measured from r_abs (the state after
the end is worth 0, as termination means in RL): the alive bonus is learned, not chosen.

Two ways to fit (`fit` and `fit_batches`):
    epochs   each refit, `epochs` passes over every labelled pair, each member on a fresh
             bootstrap resample (MuJoCo: a refit costs a few seconds however many labels)
    budget   the paper's Atari predictor, trained alongside the RL at a fixed compute rate
             (about one label per 10 RL steps) on the newest `buffer` labels (3000 there):
             each member draws minibatches in proportion to its online-bootstrap counts,
             Poisson(1) per pair (Oza and Russell 2001), so it still sees a resample of the
             labels; the cost per RL step stays the same as the labels grow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rlhf_from_scratch.envs.policies import scaled_frames
from rlhf_from_scratch.maths.bradley_terry import bradley_terry_loss
from rlhf_from_scratch.preferences.segments import Segment
from rlhf_from_scratch.utils.errors import check, check_positive


@dataclass
class RewardModelConfig:
    members: int = 3
    hidden: tuple[int, ...] = (64, 64)
    dropout: float = 0.0
    weight_decay: float = 1e-4  # L2 (the starting value when adaptive_l2)
    # The paper's rule for L2: after each refit by epochs, multiply the coefficient by l2_factor
    # when the held-out loss is above l2_band[1] x the training loss (overfitting), divide it
    # when below l2_band[0]; kept within l2_limits
    adaptive_l2: bool = False
    l2_band: tuple[float, float] = (1.1, 1.5)
    l2_factor: float = 2.0
    l2_limits: tuple[float, float] = (1e-6, 1.0)
    lr: float = 3e-4
    epochs: int = 8  # passes over the labelled pairs per refit
    batch_pairs: int = 32
    eps: float = 0.1  # the random-response probability in the likelihood
    target_std: float = 1.0  # MuJoCo 1, Atari 0.05 in the paper
    # Added to every normalised reward. Bradley-Terry cannot see a constant (lecture 003's quiz),
    # so labels never decide it; it matters only when episodes can end early: > 0 makes being
    # alive worth something (an alive bonus chosen by the designer), < 0 makes ending early pay.
    target_mean: float = 0.0
    absorbing: bool = False  # learn r_abs, the reward after an episode's end (see above)
    val_fraction: float = 1 / math.e
    # lambda in r_hat = mean_k r_k - lambda std_k r_k: a lower confidence bound that pays less
    # where the members disagree, i.e. where the labels have not pinned the reward down and a
    # policy could exploit the error. (Coste et al. 2023's uncertainty-weighted optimisation
    # subtracts lambda times the variance; the std keeps lambda in units of r_hat's std.)
    uncertainty_penalty: float = 0.0
    buffer: int | None = None  # fit_batches trains on the newest `buffer` labels (None: all)
    # r_hat(o, a); False: r_hat(o), the observation alone, so that the policy can move r_hat
    # only through what its actions do to the observations, never through the action itself
    actions: bool = True

    def validate(self) -> None:
        check_positive("reward-model members", self.members)
        check(
            self.buffer is None or self.buffer > 0,
            f"the reward model's label buffer must be > 0 labels, got {self.buffer}",
        )
        check(0 <= self.dropout < 1, f"reward-model dropout must be in [0, 1), got {self.dropout}")
        check(0 <= self.eps < 1, f"reward-model eps must be in [0, 1), got {self.eps}")
        check(
            self.weight_decay >= 0,
            f"reward-model weight decay must be >= 0, got {self.weight_decay}",
        )
        check(
            0 < self.l2_band[0] <= self.l2_band[1] and self.l2_factor > 1,
            f"the adaptive L2 band must be 0 < low <= high and its factor > 1, got band "
            f"{self.l2_band} and factor {self.l2_factor}",
        )
        check_positive("reward-model lr", self.lr)
        check_positive("reward-model epochs (passes over the labels per refit)", self.epochs)
        check(
            self.uncertainty_penalty >= 0,
            f"the uncertainty penalty must be >= 0, got {self.uncertainty_penalty}",
        )
        check(
            self.uncertainty_penalty == 0 or self.members > 1,
            "the uncertainty penalty is the spread of the ensemble's members: it needs at least "
            f"2 members, got {self.members} (raise --rm-members or drop the penalty)",
        )


def coin_flips(x: torch.Tensor) -> torch.Tensor:
    """A fair coin (0 or 1, uint8) for every element of x, laid out in x's memory order. Each
    random byte gives eight flips, its bits: an eighth of the random numbers `rand_like` would
    draw, where drawing them was most of the mask's cost (benchmarks/atari/cpu_overheads)."""
    n = x.numel()
    drawn = torch.empty((n + 7) // 8, dtype=torch.uint8, device=x.device).random_(0, 256)
    bits = torch.arange(8, dtype=torch.uint8, device=x.device)
    flips = ((drawn.unsqueeze(1) >> bits) & 1).view(-1)[:n]
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        batch, channels, height, width = x.shape
        return flips.view(batch, height, width, channels).permute(0, 3, 1, 2)
    return flips.view(x.shape)


class UniformDropout(nn.Dropout):
    """nn.Dropout with its mask drawn as uniform numbers >= p: the same distribution, made
    faster on the CPU than by torch's Bernoulli sampler, which took a large share of a
    reward-model step on Atari frames (16 x 26 x 26 units per frame after the first conv layer;
    benchmarks/atari/channels_last). At p = 0.5 (the Atari reward model's) the mask is the bits
    of random bytes (`coin_flips`), the same distribution again."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = coin_flips(x) if self.p == 0.5 else torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


class PreferenceCNN(nn.Module):
    """The paper's Atari reward predictor (Christiano et al. 2017, appendix A.2): four conv
    layers of 16 filters (7x7 stride 3, 5x5 stride 2, 3x3, 3x3), each with batch norm, leaky
    ReLU (0.01) and dropout; uint8 frames divided by 255. About a third of the Nature CNN's
    multiply-adds per frame (3.2M against 8.6M). Weights and frames channels-last, as the
    policy's (envs.policies.scaled_frames)."""

    def __init__(self, obs_shape: tuple[int, ...], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        channels = obs_shape[0]
        for kernel, stride in ((7, 3), (5, 2), (3, 1), (3, 1)):
            layers += [
                nn.Conv2d(channels, 16, kernel, stride=stride),
                nn.BatchNorm2d(16),
                nn.LeakyReLU(0.01),
                UniformDropout(dropout),
            ]
            channels = 16
        self.net = nn.Sequential(*layers, nn.Flatten()).to(memory_format=torch.channels_last)
        with torch.no_grad():  # in eval mode, so the probe leaves batch norm's statistics alone
            self.out_dim = self.net.eval()(torch.zeros(1, *obs_shape)).shape[1]
        self.net.train()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(scaled_frames(obs))


class RewardNet(nn.Module):
    """One member: r_hat(o, a). An MLP on [o, a] (2 x 64 leaky ReLU, as in the paper), or the
    paper's CNN on frames, the action's one-hot joined after the convolutions, then one hidden
    layer of 64 (Atari). With `actions=False` the action is left out: r_hat(o)."""

    def __init__(
        self, obs_shape: tuple[int, ...], action_dim: int, discrete: bool, config: RewardModelConfig
    ):
        super().__init__()
        self.discrete, self.action_dim, self.use_actions = discrete, action_dim, config.actions
        self.image = len(obs_shape) == 3
        hidden, action_in = config.hidden, action_dim if config.actions else 0
        if self.image:
            self.encoder = PreferenceCNN(obs_shape, config.dropout)
            in_dim, hidden = self.encoder.out_dim + action_in, (64,)
        else:
            self.encoder = nn.Identity()
            in_dim = obs_shape[0] + action_in
        layers: list[nn.Module] = []
        for size in hidden:
            layers += [nn.Linear(in_dim, size), nn.LeakyReLU(0.01), nn.Dropout(config.dropout)]
            in_dim = size
        self.head = nn.Sequential(*layers, nn.Linear(in_dim, 1))
        # r_abs: the reward of every step after an episode ended (clips that show the end)
        self.absorbing = nn.Parameter(torch.zeros(())) if config.absorbing else None
        # input standardisation (vectors only), set from the data at every fit
        self.register_buffer("in_mean", torch.zeros(0 if self.image else obs_shape[0]))
        self.register_buffer("in_std", torch.ones(0 if self.image else obs_shape[0]))
        self.register_buffer("out_mean", torch.zeros(()))
        self.register_buffer("out_std", torch.ones(()))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Raw (unnormalised) reward per step: obs [B, ...], actions [B, ...] -> [B]."""
        if self.image:
            features = self.encoder(obs)
        else:
            features = (obs.float() - self.in_mean) / self.in_std
        if not self.use_actions:
            return self.head(features).squeeze(-1)
        if self.discrete:
            a = nn.functional.one_hot(actions.long(), self.action_dim).float()
        else:
            a = actions.float().reshape(len(actions), -1)
        return self.head(torch.cat([features, a], -1)).squeeze(-1)


class RewardEnsemble(nn.Module):
    def __init__(
        self,
        obs_shape,
        action_dim: int,
        discrete: bool,
        config: RewardModelConfig,
        seed: int = 0,
        device: str = "cpu",
    ):
        super().__init__()
        config.validate()
        self.config, self.seed, self.device = config, seed, torch.device(device)
        self.weight_decay = config.weight_decay  # the L2 coefficient now (see adapt_l2)
        torch.manual_seed(seed)
        self.members = nn.ModuleList(
            RewardNet(tuple(obs_shape), action_dim, discrete, config) for _ in range(config.members)
        ).to(self.device)
        self.rng = np.random.default_rng(seed)
        self.val_ids: set[int] = set()
        # fit_batches: one Adam per member kept from update to update, and the members'
        # online-bootstrap counts of the pairs seen so far (by comparison id)
        self.optimizers = [self._optimizer(m) for m in self.members]
        self.counts: dict[int, np.ndarray] = {}
        self.fits = 0
        # On a GPU the labelled clips' observations are copied there once and kept, by
        # (comparison id, side), rather than gathered on the host and sent at every minibatch
        # (~1 GB per update of Atari frames); fit_batches drops those outside its label buffer.
        self.cache_frames = self.device.type != "cpu"
        self.frames: dict[tuple[int, int], torch.Tensor] = {}

    def _optimizer(self, member: RewardNet) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            member.parameters(), lr=self.config.lr, weight_decay=self.weight_decay
        )

    def _tensor(self, array) -> torch.Tensor:
        return torch.as_tensor(array).to(self.device, non_blocking=True)

    # ---- predictions -----------------------------------------------------------------------
    def member_rewards(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Normalised rewards of every member, in eval mode (no dropout): [members, B]."""
        self.eval()
        obs, actions = obs.to(self.device), actions.to(self.device)
        return torch.stack(
            [
                (m(obs, actions) - m.out_mean) / m.out_std * self.config.target_std
                + self.config.target_mean
                for m in self.members
            ]
        )

    def combine(self, members: torch.Tensor) -> torch.Tensor:
        """r_hat from the members' rewards [members, B]: their mean, less lambda times their
        standard deviation when an uncertainty penalty is set. [B]"""
        r_hat = members.mean(0)
        if self.config.uncertainty_penalty:
            r_hat = r_hat - self.config.uncertainty_penalty * members.std(0)
        return r_hat

    @torch.no_grad()
    def reward(self, obs: torch.Tensor, actions: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """r_hat(o, a): the normalised members combined, what the learner is given. [B]"""
        self.eval()
        out = [
            self.combine(self.member_rewards(obs[i : i + chunk], actions[i : i + chunk]))
            for i in range(0, len(obs), chunk)
        ]
        return torch.cat(out) if out else torch.zeros(0, device=self.device)

    def _segment_returns(
        self, member: RewardNet, segments: list[Segment], obs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """R_hat(clip): r_hat summed over the clip's steps, r_abs after its episode's end.
        `obs`: the clips' observations already stacked on the device, if at hand."""
        H = len(segments[0])
        if obs is None:
            obs = self._tensor(np.concatenate([s.obs for s in segments]))
        actions = self._tensor(np.concatenate([s.actions for s in segments]))
        rewards = member(obs, actions).view(len(segments), H)
        if all(s.alive_steps is None for s in segments):
            return rewards.sum(1)
        alive = self._tensor(np.stack([s.alive() for s in segments]))
        after_end = member.absorbing if member.absorbing is not None else rewards.new_zeros(())
        return torch.where(alive, rewards, after_end).sum(1)

    @torch.no_grad()
    def _returns_in_chunks(
        self, member: RewardNet, segments: list[Segment], chunk_bytes: int = 64 * 2**20
    ) -> torch.Tensor:
        """_segment_returns over many clips, in chunks of at most `chunk_bytes` of observations
        (one chunk for any MuJoCo set of clips; ~90 clips of Atari frames)."""
        per_clip = max(1, segments[0].obs.nbytes) if segments else 1
        size = max(1, chunk_bytes // per_clip)
        return torch.cat(
            [
                self._segment_returns(member, segments[i : i + size])
                for i in range(0, len(segments), size)
            ]
        )

    @torch.no_grad()
    def preference_probabilities(self, pairs: list[tuple[Segment, Segment]]) -> torch.Tensor:
        """P_hat[first > second] of each member for each pair: [members, P] (for queries)."""
        self.eval()
        firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
        return torch.stack(
            [
                torch.sigmoid(
                    self._returns_in_chunks(m, firsts) - self._returns_in_chunks(m, seconds)
                )
                for m in self.members
            ]
        )

    # ---- fitting ---------------------------------------------------------------------------
    def split(self, comparison_ids: list[int]) -> tuple[list[int], list[int]]:
        """Train / validation indices; a pair keeps its side once chosen (1/e held out)."""
        for cid in comparison_ids:
            if (
                cid not in self.val_ids
                and (cid * 2654435761) % 1000 < self.config.val_fraction * 1000
            ):
                self.val_ids.add(cid)
        train = [i for i, cid in enumerate(comparison_ids) if cid not in self.val_ids]
        val = [i for i, cid in enumerate(comparison_ids) if cid in self.val_ids]
        return train, val

    def fit(
        self,
        labelled: list[tuple[int, Segment, Segment, float]],
        recent: list[Segment],
        fresh_optimizers: bool = True,
    ) -> dict[str, float]:
        """Refit every member on its bootstrap resample; normalise on `recent` clips. Each
        refit starts a fresh Adam per member; fresh_optimizers=False continues the members'
        kept ones (`self.optimizers`) instead (--rm-keep-adam; scripts/alive_bonus_growth.py
        --keep-adam)."""
        c = self.config
        ids = [cid for cid, *_ in labelled]
        train_idx, val_idx = self.split(ids)
        if not train_idx:  # too few labels to hold any out: train on everything
            train_idx, val_idx = list(range(len(labelled))), []
        if not self.members[0].image:  # the steps of episodes, not the absorbing state's zeros
            obs = np.concatenate([s.obs[s.alive()] for _, a, b, _ in labelled for s in (a, b)])
            mean, std = (
                torch.as_tensor(obs.mean(0)).float(),
                torch.as_tensor(obs.std(0) + 1e-6).float(),
            )
        last_epoch = []  # each member's mean minibatch loss over its last pass
        for k, member in enumerate(self.members):
            if not member.image:
                member.in_mean.copy_(mean)
                member.in_std.copy_(std)
            if fresh_optimizers:
                optimizer = self._optimizer(member)
            else:  # the kept Adam, at the L2 coefficient the adaptive rule has reached
                optimizer = self.optimizers[k]
                for group in optimizer.param_groups:
                    group["weight_decay"] = self.weight_decay
            sample = self.rng.choice(train_idx, size=len(train_idx), replace=True)  # bootstrap
            member.train()
            for _ in range(c.epochs):
                self.rng.shuffle(sample)
                losses = []
                for start in range(0, len(sample), c.batch_pairs):
                    batch = [labelled[i] for i in sample[start : start + c.batch_pairs]]
                    losses.append(self._step(member, optimizer, batch))
            last_epoch.append(np.mean(losses))
        self.normalize(recent)
        metrics = {"rm_train_loss": float(np.mean(last_epoch))}
        if val_idx:
            metrics.update(self.evaluate([labelled[i] for i in val_idx]))
            if c.adaptive_l2:
                metrics.update(
                    self.adapt_l2(metrics["rm_train_loss"], metrics["rm_val_loss_members"])
                )
        return metrics

    def adapt_l2(self, train_loss: float, val_loss: float) -> dict[str, float]:
        """The paper's L2 rule (appendix A): keep the held-out loss between 1.1 and 1.5 times
        the training loss. Above the band the members overfit their labels: multiply the
        coefficient by l2_factor for the next refit; below it, divide. Both losses are the
        members' own Bradley-Terry losses on their unnormalised returns, averaged over the
        members (the training loss over each member's last pass)."""
        c = self.config
        ratio = val_loss / max(train_loss, 1e-12)
        if ratio > c.l2_band[1]:
            self.weight_decay *= c.l2_factor
        elif ratio < c.l2_band[0]:
            self.weight_decay /= c.l2_factor
        self.weight_decay = float(np.clip(self.weight_decay, *c.l2_limits))
        return {"rm_val_train_ratio": ratio, "rm_weight_decay": self.weight_decay}

    def bootstrap_counts(self, member: int, comparison_ids: list[int]) -> np.ndarray:
        """How often `member` counts each pair: Poisson(1), drawn once per (seed, member, pair)
        so it never changes as labels arrive or when a run resumes (the online bootstrap)."""
        counts = self.counts.setdefault(member, np.zeros(0, dtype=np.int64))
        if comparison_ids and max(comparison_ids) >= len(counts):
            new = np.arange(len(counts), max(comparison_ids) + 1)
            drawn = [np.random.default_rng((self.seed, member, int(cid))).poisson() for cid in new]
            counts = self.counts[member] = np.concatenate([counts, drawn])
        return counts[comparison_ids]

    def fit_batches(
        self,
        labelled: list[tuple[int, Segment, Segment, float]],
        recent: list[Segment],
        batches: int,
        validate: bool = True,
        normalize_steps: int = 800,
    ) -> dict[str, float]:
        """`batches` minibatches per member on the newest `buffer` labels (the budget mode).

        Each member draws its pairs in proportion to its bootstrap counts and keeps its Adam
        from call to call; each output is then normalised on up to `normalize_steps` random
        steps of the recent clips, and the held-out pairs are scored when `validate` (a pass
        over all of them: the caller decides how often). The input standardisation of vector
        observations stays what the first (`fit`) set: moving it under a running Adam would
        shift every member's inputs at once."""
        c = self.config
        ids = [cid for cid, *_ in labelled]
        train_idx, val_idx = self.split(ids)
        if not train_idx:
            train_idx, val_idx = list(range(len(labelled))), []
        if c.buffer is not None:
            train_idx = train_idx[-c.buffer :]
        window = {ids[i] for i in train_idx}
        self.frames = {key: obs for key, obs in self.frames.items() if key[0] in window}
        losses = []
        for k, member in enumerate(self.members):
            weights = self.bootstrap_counts(k, [ids[i] for i in train_idx]).astype(float)
            if weights.sum() == 0:  # every pair drawn 0 times: fall back to all of them
                weights[:] = 1.0
            member.train()
            for _ in range(batches):
                picks = self.rng.choice(
                    len(train_idx), size=c.batch_pairs, replace=True, p=weights / weights.sum()
                )
                batch = [labelled[train_idx[i]] for i in picks]
                losses.append(self._step(member, self.optimizers[k], batch))
        self.fits += 1
        self.normalize(recent, steps=normalize_steps)
        metrics = {"rm_train_loss": float(np.mean(losses))} if losses else {}
        if validate and val_idx:
            metrics.update(self.evaluate([labelled[i] for i in val_idx]))
        return metrics

    def optimizer_states(self) -> list[dict]:
        return [optimizer.state_dict() for optimizer in self.optimizers]

    def load_optimizer_states(self, states: list[dict]) -> None:
        for optimizer, state in zip(self.optimizers, states):
            optimizer.load_state_dict(state)

    def _step(self, member: RewardNet, optimizer: torch.optim.Optimizer, batch) -> float:
        """One Adam step of `member` on a minibatch of labelled pairs; returns its loss."""
        loss = self._loss(member, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    def _loss(self, member: RewardNet, batch) -> torch.Tensor:
        r1, r2 = (
            self._segment_returns(
                member, [pair[side] for pair in batch], self._cached_obs(batch, side)
            )
            for side in (1, 2)
        )
        mu = torch.tensor([m for *_, m in batch], dtype=r1.dtype, device=r1.device)
        return bradley_terry_loss(r1, r2, mu, eps=self.config.eps)

    def _cached_obs(self, batch, side: int) -> torch.Tensor | None:
        """The observations of side 1 or 2 of the labelled pairs (cid, first, second, mu),
        stacked, from the device cache (filled on first use); None when the cache is off."""
        if not self.cache_frames:
            return None
        for pair in batch:
            if (pair[0], side) not in self.frames:
                self.frames[(pair[0], side)] = self._tensor(pair[side].obs)
        return torch.cat([self.frames[(pair[0], side)] for pair in batch])

    @torch.no_grad()
    def normalize(self, segments: list[Segment], steps: int | None = None) -> None:
        """Each member's output to mean 0, std 1 over these clips (the learner then gets
        x target_std + target_mean). With `absorbing`, r_abs is the zero instead of the mean.
        `steps`: over at most this many of the clips' steps, drawn at random (fit_batches, at
        every update: 800 frames from all the recent clips, where it read every frame of 128
        of them until 2026-12-07, a quarter of the cost)."""
        if not segments:
            return
        alive = [np.flatnonzero(s.alive()) for s in segments]
        if steps is not None and sum(map(len, alive)) > steps:
            clip = np.repeat(np.arange(len(segments)), [len(a) for a in alive])
            pick = self.rng.choice(len(clip), steps, replace=False)
            where = list(zip(clip[pick], np.concatenate(alive)[pick]))
            obs = np.stack([segments[i].obs[t] for i, t in where])
            actions = np.stack([segments[i].actions[t] for i, t in where])
        else:
            obs = np.concatenate([s.obs[a] for s, a in zip(segments, alive)])
            actions = np.concatenate([s.actions[a] for s, a in zip(segments, alive)])
        obs, actions = self._tensor(obs), self._tensor(actions)
        for member in self.members:
            member.eval()
            out = torch.cat(
                [member(obs[i : i + 4096], actions[i : i + 4096]) for i in range(0, len(obs), 4096)]
            )
            member.out_mean.copy_(out.mean() if member.absorbing is None else member.absorbing)
            member.out_std.copy_(out.std() + 1e-8)

    @torch.no_grad()
    def evaluate(self, labelled) -> dict[str, float]:
        """Held-out loss and accuracy (on pairs that are not ties) of the ensemble.

        `labelled` comes in the order the labels were given, so its newest quarter holds clips
        of the recent policies. `rm_val_accuracy_recent` is the accuracy there: the accuracy
        over all held-out pairs is mostly the early, easy ones (a falling hopper against a
        standing one) and stays high when the model no longer ranks what the policy does now.
        """
        self.eval()
        firsts = [a for _, a, _, _ in labelled]
        seconds = [b for _, _, b, _ in labelled]
        mu = torch.tensor([m for *_, m in labelled], device=self.device)
        raw1, raw2 = (
            torch.stack([self._returns_in_chunks(m, clips) for m in self.members])
            for clips in (firsts, seconds)
        )  # [members, pairs], each member's own scale
        scale = torch.stack([m.out_std for m in self.members])[:, None]
        r1, r2 = (raw1 / scale).mean(0), (raw2 / scale).mean(0)
        mu = mu.to(r1.dtype)
        newest = slice(len(labelled) - math.ceil(len(labelled) / 4), None)
        return {
            "rm_val_loss": bradley_terry_loss(r1, r2, mu, eps=self.config.eps).item(),
            # the loss each member was trained on, on its own returns: comparable with
            # rm_train_loss (the ensemble's rm_val_loss above reads normalised returns)
            "rm_val_loss_members": np.mean(
                [
                    bradley_terry_loss(a, b, mu, eps=self.config.eps).item()
                    for a, b in zip(raw1, raw2)
                ]
            ).item(),
            "rm_val_accuracy": accuracy(r1, r2, mu),
            "rm_val_accuracy_recent": accuracy(r1[newest], r2[newest], mu[newest]),
            "rm_val_pairs": len(labelled),
        }


def accuracy(r1: torch.Tensor, r2: torch.Tensor, mu: torch.Tensor) -> float:
    """How often the clip with the larger predicted return is the preferred one (ties left out;
    NaN when every pair is a tie)."""
    decided = mu != 0.5
    if not decided.any():
        return float("nan")
    return ((r1 > r2).float() == mu)[decided].float().mean().item()
