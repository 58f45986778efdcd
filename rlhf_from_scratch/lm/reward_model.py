"""The reward model of InstructGPT's step 2: a GPT with a scalar head, fit to rankings.

Lectures: ../shared/seeds/001 ("rankings to pairs", the RM loss over K choose 2 pairs) and
000 (InstructGPT). For each prompt x the SFT model writes K responses, the gold labeler ranks
them, and every one of the K choose 2 pairs (y_w better than y_l) becomes a comparison in the
preference store. The reward model r_theta(x, y) is the GPT's scalar head read at the last
token (end of text) and is trained with the Bradley-Terry loss of `maths/bradley_terry.py`:

    loss(theta) = -1/(K choose 2) E_(x, y_w, y_l) [ log sigma( r_theta(x, y_w) - r_theta(x, y_l) ) ]

Each response is scored once per ranking (not once per pair), and a ranking's pairs are
averaged together, as in InstructGPT; ties (equal gold scores) are labels mu = 0.5.

Only differences of r_theta matter (shift invariance, lecture 003), so after training the
head is shifted and scaled so that r_theta has mean 0 and std 1 on SFT samples (Ziegler et
al. 2019; Huang et al. 2023): the KL coefficient beta then means the same for every RM.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import torch

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.ai_feedback import agreement as ai_agreement
from rlhf_from_scratch.lm.ai_feedback import ai_scores
from rlhf_from_scratch.lm.checkpoint import (
    checkpoint_file,
    load_model,
    load_state,
    model_state,
    resolve_device,
    restore_training,
    training_state,
)
from rlhf_from_scratch.lm.model import GPT, GPTConfig, left_pad
from rlhf_from_scratch.lm.prompts import RM_PROMPT_SEED, instruction_prompts, sequence_ids
from rlhf_from_scratch.lm.sample import complete
from rlhf_from_scratch.lm.tokenizer import check_same
from rlhf_from_scratch.maths.bradley_terry import bradley_terry_loss, ranking_to_pairs
from rlhf_from_scratch.preferences.store import PreferenceStore
from rlhf_from_scratch.utils.errors import ConfigError, check, check_positive
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import set_seed

REWARD_MODEL_KIND = "reward_model"


# ---- data: K-wise rankings -> K choose 2 comparisons in the store -----------------------------
def rank_pairs(scores: list[float]) -> list[tuple[int, int, float]]:
    """(first, second, mu) for the K choose 2 pairs of a ranking by gold score, best first.

    mu = 1 when first is strictly better, 0.5 for a tie (equal gold scores).
    """
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [(a, b, 1.0 if scores[a] > scores[b] else 0.5) for a, b in ranking_to_pairs(order)]


def collect_rankings(
    policy: GPT,
    tokenizer,
    prompts: list[str],
    k: int,
    gold_kind: str,
    store: PreferenceStore,
    max_new_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
    chunk: int = 16,
    on_progress: Callable[[int], None] | None = None,
    labeler: Callable[[list[tuple[str, str]]], list[float]] | None = None,
) -> int:
    """Sample K responses to each prompt, rank them by gold score, store the pairs.

    Ranking i (of prompts[i]) is group i in the store; a chunk of rankings is written in one
    transaction, and chunks already in the store are skipped (a killed run resumes).
    labeler: scores (prompt, response) pairs in place of the gold labeler (AI feedback).
    """
    check(k >= 2, f"a ranking needs K >= 2 responses per prompt, got K={k}")
    check(len(prompts) > 0, "no prompts to collect rankings for; use --num-prompts >= 1")
    done = {row[5] for row in store.comparisons()}
    source = f"gold-{gold_kind}" if labeler is None else "ai"
    for start in range(0, len(prompts), chunk):
        groups = list(range(start, min(start + chunk, len(prompts))))
        if all(g in done for g in groups):
            if on_progress is not None:
                on_progress(groups[-1] + 1)
            continue
        shown = [prompts[g] for g in groups for _ in range(k)]
        responses = complete(
            policy, tokenizer, shown, max_new_tokens, temperature, seed=seed + start
        )
        store.db.execute("BEGIN IMMEDIATE")
        try:
            for j, g in enumerate(groups):
                texts = responses[j * k : (j + 1) * k]
                if labeler is None:
                    scores = [gold.score(gold_kind, prompts[g], t) for t in texts]
                else:
                    scores = labeler([(prompts[g], t) for t in texts])
                scores = [-math.inf if math.isnan(s) else s for s in scores]
                ids = [
                    store.add_item("text", json.dumps({"prompt": prompts[g], "response": t}))
                    for t in texts
                ]
                for a, b, mu in rank_pairs(scores):
                    store.add_comparison(ids[a], ids[b], mu, source, group=g)
            store.db.execute("COMMIT")
        except BaseException:
            store.db.execute("ROLLBACK")
            raise
        if on_progress is not None:
            on_progress(groups[-1] + 1)
    return len(store)


@dataclass
class Ranking:
    """One group of the store: its texts (prompt, response) and its pairs (i, j, mu)."""

    group: int
    texts: list[tuple[str, str]]
    pairs: list[tuple[int, int, float]]


def read_rankings(store: PreferenceStore) -> list[Ranking]:
    """The store's text comparisons, grouped by ranking (a comparison without a group is a
    ranking of its own two texts)."""
    rankings: dict[object, Ranking] = {}
    index: dict[object, dict[int, int]] = {}
    for cid, group, ia, a, ib, b, mu in store.text_comparisons():
        key = group if group is not None else ("pair", cid)
        r = rankings.setdefault(key, Ranking(group if group is not None else -cid, [], []))
        where = index.setdefault(key, {})
        for item_id, text in ((ia, a), (ib, b)):
            if item_id not in where:
                where[item_id] = len(r.texts)
                r.texts.append((text["prompt"], text["response"]))
        r.pairs.append((where[ia], where[ib], mu))
    if not rankings:
        raise ConfigError(
            f"preference store '{store.path}' holds no text comparisons; collect rankings first"
        )
    return list(rankings.values())


# ---- the model ------------------------------------------------------------------------------
def reward_model_from(policy: GPT) -> GPT:
    """A reward model initialised from a (SFT) GPT: same trunk, a fresh scalar head."""
    model = GPT(replace(policy.config, scalar_head="reward"))
    missing, _ = model.load_state_dict(policy.state_dict(), strict=False)
    assert all(k.startswith("scalar_head") for k in missing), missing
    return model


def last_token_scores(model: GPT, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """r_theta at the last real token of each row, [B] (padding may sit on either side)."""
    scores = model.score(tokens, mask)
    positions = torch.arange(tokens.shape[1], device=tokens.device)
    last = (positions * mask.long()).argmax(-1)
    return scores.gather(1, last[:, None]).squeeze(1)


def score_texts(model: GPT, tokenizer, texts: list[tuple[str, str]], batch_size: int = 64):
    """r_theta(x, y) of (prompt, response) pairs, [N] on the model's device."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(texts), batch_size):
        seqs = [sequence_ids(tokenizer, p, r) for p, r in texts[start : start + batch_size]]
        idx, mask = left_pad(seqs, tokenizer.pad_id)
        out.append(last_token_scores(model, idx.to(device), mask.to(device)))
    return torch.cat(out)


def ranking_loss(model: GPT, tokenizer, rankings: list[Ranking]) -> torch.Tensor:
    """The Bradley-Terry loss averaged over all pairs of a minibatch of rankings; every
    response is scored once. With K responses per ranking this is InstructGPT's loss (it
    equals maths.bradley_terry.kwise_ranking_loss on the ranks, tested there)."""
    texts, first, second, mu = flatten_rankings(rankings)
    rewards = score_texts(model, tokenizer, texts, batch_size=len(texts))
    device = rewards.device
    return bradley_terry_loss(
        rewards[torch.tensor(first, device=device)],
        rewards[torch.tensor(second, device=device)],
        torch.tensor(mu, device=device),
    )


def flatten_rankings(rankings: list[Ranking]):
    """(texts, first, second, mu): every text of the rankings once, and each pair as indices
    into that list, so that a response is scored once per ranking rather than once per pair."""
    texts, first, second, mu = [], [], [], []
    for r in rankings:
        offset = len(texts)
        texts += r.texts
        for i, j, m in r.pairs:
            first.append(offset + i)
            second.append(offset + j)
            mu.append(m)
    return texts, first, second, mu


@torch.no_grad()
def accuracy(model: GPT, tokenizer, rankings: list[Ranking]) -> float:
    """The fraction of strict pairs (mu = 1 or 0) the reward model orders like the labeler."""
    right, total = 0, 0
    for start in range(0, len(rankings), 16):
        chunk = rankings[start : start + 16]
        texts = [t for r in chunk for t in r.texts]
        rewards = score_texts(model, tokenizer, texts).tolist()
        offset = 0
        for r in chunk:
            for i, j, mu in r.pairs:
                if mu != 0.5:
                    d = rewards[offset + i] - rewards[offset + j]
                    right += (d > 0) if mu == 1.0 else (d < 0)
                    total += 1
            offset += len(r.texts)
    return right / total if total else float("nan")


@torch.no_grad()
def normalise(model: GPT, tokenizer, texts: list[tuple[str, str]]) -> tuple[float, float]:
    """Shift and scale the head so that r_theta has mean 0 and std 1 on these (SFT) samples:
    r <- (r - mean) / std, folded into the head's weight and bias. Returns (mean, std)."""
    r = score_texts(model, tokenizer, texts).double()
    mean, std = float(r.mean()), float(r.std().clamp(min=1e-6))
    head = model.scalar_head
    head.weight.div_(std)
    head.bias.sub_(mean).div_(std)
    return mean, std


# ---- loading, with the checks that keep a policy and a reward model apart --------------------
def load_reward_model(path, tokenizer=None) -> tuple[GPT, object, dict]:
    """(reward model, tokenizer, state) from an `rlhf lm rm` run directory or checkpoint.

    Refused, with a sentence: a checkpoint that is not a reward model (a policy), and a
    reward model whose tokenizer differs from the policy's (`tokenizer`, when given).
    """
    state = load_state(path)
    if state.get("kind") != REWARD_MODEL_KIND:
        raise ConfigError(
            f"'{checkpoint_file(path)}' is a {state.get('kind', 'language-model')} checkpoint, "
            "not a reward model; pass the run directory of `rlhf lm rm` as --reward-model"
        )
    if tokenizer is not None:
        check_same(
            state["tokenizer"], tokenizer.identity(), f"reward model '{checkpoint_file(path)}'"
        )
    model, tok, _ = load_model(path)
    return model, tok, state


def check_policy_state(state: dict, path) -> None:
    """A policy checkpoint must not be a reward model (the reverse mistake)."""
    if state.get("kind") == REWARD_MODEL_KIND:
        raise ConfigError(
            f"'{checkpoint_file(path)}' is a reward model, not a policy; pass the run "
            "directory of `rlhf lm sft` as --policy"
        )
    check(
        GPTConfig(**state["model_config"]).scalar_head is None,
        f"'{checkpoint_file(path)}' has a scalar head: it is not a language-model policy",
    )


# ---- the stage: rlhf lm rm -----------------------------------------------------------------
@dataclass
class RMConfig:
    policy: str = ""  # the SFT run directory: it writes the ranked responses and inits the RM
    store: str | None = None  # the preference store (default RUN_DIR/preferences.sqlite)
    gold: str = "sentiment"  # the gold labeler that ranks: sentiment, instruction, grammar
    labeler: str = "gold"  # "gold", or "ai": the --judge model ranks (RLAIF; gold only scores)
    judge: str = ""  # the AI labeler's run directory (a pretraining or SFT run)
    prompts: str = "open"  # prompt set: "open" (sentiment not asked) or "all" (prompts.py)
    num_prompts: int = 240  # rankings (one per prompt)
    k: int = 4  # responses per prompt (K); K choose 2 pairs per ranking
    held_out: float = 0.15  # the fraction of rankings kept out of training (accuracy)
    max_new_tokens: int = 160  # most tokens per sampled response
    temperature: float = 1.0
    epochs: int = 3  # passes over the training rankings
    rankings_per_batch: int = 8
    lr: float = 3e-4
    checkpoint_every: int = 20
    seed: int = 1
    device: str = "auto"

    def validate(self) -> None:
        check(
            bool(self.policy), "lm rm needs --policy RUN_DIR (the SFT run whose samples are ranked)"
        )
        check(self.k >= 2, f"--k must be >= 2 (a ranking compares K >= 2 responses), got {self.k}")
        check(0 < self.held_out < 1, f"--held-out must be in (0, 1), got {self.held_out}")
        check(self.gold in gold.GOLD_SCORES, f"--gold must be one of {gold.GOLD_SCORES}")
        check(
            self.labeler in ("gold", "ai"),
            f"--labeler must be 'gold' or 'ai', got {self.labeler!r}",
        )
        check(
            self.labeler == "gold" or bool(self.judge),
            "--labeler ai needs --judge RUN_DIR (a pretraining or SFT run that does the labelling)",
        )
        for key in ("epochs", "rankings_per_batch", "lr", "max_new_tokens", "checkpoint_every"):
            check_positive(f"--{key.replace('_', '-')}", getattr(self, key))


def train_reward_model(
    cfg: RMConfig, run: RunDir, on_step: Callable[[int, dict], None] | None = None
) -> dict:
    """Collect rankings from the SFT model, fit r_theta, normalise it; returns the summary."""
    cfg.validate()
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    policy, tokenizer, policy_state = load_model(cfg.policy)
    check_policy_state(policy_state, cfg.policy)
    policy.to(device)
    prompts = instruction_prompts(cfg.num_prompts, RM_PROMPT_SEED, cfg.prompts)
    n_held = max(1, round(cfg.held_out * len(prompts)))
    check(len(prompts) - n_held >= 1, "--num-prompts is too small to hold rankings out")

    start_time = time.time()
    labeler = None
    if cfg.labeler == "ai":
        judge, _, judge_state = load_model(cfg.judge)
        check_policy_state(judge_state, cfg.judge)
        check_same(judge_state["tokenizer"], tokenizer.identity(), f"judge '{cfg.judge}'")
        judge = judge.to(device).eval()
        labeler = partial(ai_scores, judge, tokenizer)
    store = PreferenceStore(cfg.store or run.path / "preferences.sqlite", store_task(cfg))
    try:
        collect_rankings(
            policy, tokenizer, prompts, cfg.k, cfg.gold, store, cfg.max_new_tokens,
            cfg.temperature, seed=cfg.seed, labeler=labeler,
        )  # fmt: skip
        rankings = read_rankings(store)
    finally:
        store.close()
    collect_time = time.time() - start_time
    gold_held = None
    if labeler is not None:  # how the AI labels compare with the gold labeler's
        credit, total, gold_held = 0.0, 0, []
        for r in rankings:
            golds = [gold.score(cfg.gold, p, y) for p, y in r.texts]
            agreed, n = ai_agreement(r.pairs, golds)
            credit, total = credit + (agreed * n if n else 0.0), total + n
            if r.group >= len(prompts) - n_held:
                gold_held.append(Ranking(r.group, r.texts, rank_pairs(golds)))
        labeler_agreement = credit / total if total else float("nan")
    held = [r for r in rankings if r.group >= len(prompts) - n_held]
    train = [r for r in rankings if r.group < len(prompts) - n_held]

    model = reward_model_from(policy).to(device)
    del policy
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train) / cfg.rankings_per_batch)
    total = cfg.epochs * steps_per_epoch
    order_rng = torch.Generator().manual_seed(cfg.seed)
    step = 0
    state = run.load_latest_checkpoint()
    if state is not None:
        step = restore_training(state, model, optimizer, {"order_rng": order_rng})
        before = state["before"]
    else:
        model.eval()
        before = {"held_out_accuracy": accuracy(model, tokenizer, held)}
        run.log(0, before)
    order = state.get("order") if state is not None else None
    finished = state is not None and "normalisation" in state  # a completed run, resumed
    model.train()
    while step < total:
        if step % steps_per_epoch == 0 or order is None:
            order = torch.randperm(len(train), generator=order_rng).tolist()
        at = (step % steps_per_epoch) * cfg.rankings_per_batch
        batch = [train[i] for i in order[at : at + cfg.rankings_per_batch]]
        loss = ranking_loss(model, tokenizer, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        metrics = {"train_loss": loss.item(), "epoch": step / steps_per_epoch}
        if step % steps_per_epoch == 0 or step == total:
            model.eval()
            metrics["held_out_accuracy"] = accuracy(model, tokenizer, held)
            metrics["train_accuracy"] = accuracy(model, tokenizer, train[: len(held)])
            model.train()
        run.log(step, metrics)
        if on_step is not None:
            on_step(step, metrics)
        if step % cfg.checkpoint_every == 0 and step < total:
            run.save_checkpoint(
                training_state(
                    model,
                    tokenizer,
                    REWARD_MODEL_KIND,
                    step,
                    optimizer,
                    {"order_rng": order_rng},
                    before=before,
                    order=order,
                ),  # fmt: skip
                step,
            )
    model.eval()
    held_acc = accuracy(model, tokenizer, held)
    if finished:
        raw_mean = state["normalisation"]["raw_mean"]
        raw_std = state["normalisation"]["raw_std"]
    else:  # normalise on SFT samples: the responses of the training rankings
        sft_texts = [t for r in train for t in r.texts]
        raw_mean, raw_std = normalise(model, tokenizer, sft_texts)
        run.save_checkpoint(
            {
                **model_state(model, tokenizer, REWARD_MODEL_KIND),
                "step": step,
                "before": before,
                "gold": cfg.gold,
                "prompts": cfg.prompts,
                "store_task": store_task(cfg),
                "normalisation": {"raw_mean": raw_mean, "raw_std": raw_std},
            },
            step,
        )
    summary = {
        "labeler": cfg.labeler,
        "store_task": store_task(cfg),
        "held_out_accuracy": held_acc,
        "held_out_accuracy_before": before["held_out_accuracy"],
        "train_accuracy": accuracy(model, tokenizer, train),
        "rankings": len(rankings),
        "held_out_rankings": len(held),
        "comparisons": sum(len(r.pairs) for r in rankings),
        "ties": sum(mu == 0.5 for r in rankings for _, _, mu in r.pairs),
        "k": cfg.k,
        "gold": cfg.gold,
        "prompts": cfg.prompts,
        "normalisation": {"raw_mean": raw_mean, "raw_std": raw_std},
        "steps": step,
        "collect_time_s": collect_time,
        "wall_time_s": time.time() - start_time,
    }
    if gold_held is not None:
        summary["labeler_agreement_with_gold"] = labeler_agreement
        summary["held_out_accuracy_vs_gold"] = accuracy(model, tokenizer, gold_held)
    run.write_summary(summary)
    return summary


def store_task(cfg: RMConfig) -> str:
    """The preference store's task: the gold labeler's name, or "ai:" and it for AI labels
    (so that AI and gold labels never share a store)."""
    return f"lm-text:{'ai:' if cfg.labeler == 'ai' else ''}{cfg.gold}"
