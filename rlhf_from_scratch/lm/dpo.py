"""Direct Preference Optimization (Rafailov et al. 2023): RLHF without the reward model or RL.

Lecture 003 (the DPO guest lecture). The KL-regularised objective of RLHF,

    max_pi  E_{x, y ~ pi}[ r(x, y) ] - beta KL( pi(.|x) || pi_ref(.|x) ),

has the closed-form optimum pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x). Read the other
way, every policy is optimal for the reward

    r_pi(x, y) = beta log( pi(y|x) / pi_ref(y|x) ) + beta log Z(x)        (the implicit reward)

and Bradley-Terry sees only reward differences of two responses to one prompt, so Z(x) cancels.
Putting r_pi into the reward model's loss gives a loss on the policy itself:

    loss_DPO(pi) = -E_(x, y_w, y_l)[ log sigma( beta log pi(y_w|x)/pi_ref(y_w|x)
                                                - beta log pi(y_l|x)/pi_ref(y_l|x) ) ]

No sampling, no critic, no RL loop: one supervised pass over the comparisons. Here they are the
very comparisons the reward model of `rlhf lm rm` learned from (its preference store, K choose 2
pairs per ranking, ties as mu = 0.5), so DPO and RM + PPO can be compared on the same labels.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.checkpoint import (
    resolve_device,
    restore_training,
    training_state,
)
from rlhf_from_scratch.lm.model import GPT
from rlhf_from_scratch.lm.policy import LMActorCritic
from rlhf_from_scratch.lm.prompts import EVAL_PROMPT_SEED, instruction_prompts
from rlhf_from_scratch.lm.reward_model import (
    Ranking,
    flatten_rankings,
    read_rankings,
)
from rlhf_from_scratch.lm.rlhf import evaluate, load_policy_and_reward_model
from rlhf_from_scratch.lm.rollout import reward_model_fn
from rlhf_from_scratch.lm.sft import collate, encode_pair
from rlhf_from_scratch.maths.bradley_terry import bradley_terry_loss
from rlhf_from_scratch.preferences.store import PreferenceStore
from rlhf_from_scratch.utils.errors import ConfigError, check, check_positive
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import set_seed


# ---- the equations ------------------------------------------------------------------------
def implicit_reward(logp: torch.Tensor, logp_ref: torch.Tensor, beta: float) -> torch.Tensor:
    """r_pi(x, y) = beta log( pi(y|x) / pi_ref(y|x) ), up to beta log Z(x) (which cancels)."""
    return beta * (logp - logp_ref)


def dpo_loss(
    logp_w: torch.Tensor,
    logp_l: torch.Tensor,
    logp_ref_w: torch.Tensor,
    logp_ref_l: torch.Tensor,
    beta: float,
    mu: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """-mean log sigma( r_pi(x, y_w) - r_pi(x, y_l) ): the Bradley-Terry loss of the reward
    model (maths/bradley_terry.py), on the implicit rewards. Arguments are log pi(y|x) summed
    over each response's tokens, [N]; mu = 0.5 for a tie (then the loss pulls the two together).
    """
    return bradley_terry_loss(
        implicit_reward(logp_w, logp_ref_w, beta), implicit_reward(logp_l, logp_ref_l, beta), mu
    )


def response_logprobs(model: GPT, tokenizer, texts: list[tuple[str, str]]) -> torch.Tensor:
    """log pi(y|x) = sum_t log pi(y_t | x, y_<t) of each (prompt, response), end of text
    included, [N]: the SFT loss's terms, summed per response instead of averaged."""
    device = next(model.parameters()).device
    x, y = collate([encode_pair(tokenizer, p, r) for p, r in texts], tokenizer.pad_id)
    x, y = x.to(device), y.to(device)
    logits, _ = model(x)
    logp = F.log_softmax(logits.float(), -1).gather(-1, y.clamp(min=0)[..., None]).squeeze(-1)
    return (logp * (y != -100)).sum(1)


# ---- the stage: rlhf lm dpo ------------------------------------------------------------------
@dataclass
class DPOConfig:
    policy: str = ""  # the SFT run directory: the start, and pi_ref (frozen)
    preferences: str = ""  # the `rlhf lm rm` run directory: its store and, for evaluation, its RM
    beta: float = 0.1  # the KL coefficient of the objective DPO solves (Rafailov et al.: 0.1)
    epochs: int = 2  # passes over the training rankings
    rankings_per_batch: int = 8
    lr: float = 3e-5
    held_out: float = 0.15  # the reward model's split when equal to its --held-out
    max_new_tokens: int = 120  # most tokens per response at evaluation
    num_eval_prompts: int = 48  # held-out prompts scored before and after
    eval_every: int = 20
    checkpoint_every: int = 20
    gold: str | None = None  # the gold score to evaluate; None: the reward model's labeler
    prompts: str | None = None  # evaluation prompt set; None: the reward model's
    seed: int = 1
    device: str = "auto"

    def validate(self) -> None:
        check(bool(self.policy), "lm dpo needs --policy RUN_DIR (the SFT run)")
        check(
            bool(self.preferences),
            "lm dpo needs --preferences RUN_DIR (an `rlhf lm rm` run: its comparisons)",
        )
        check(self.beta > 0, f"--beta must be > 0 (the KL coefficient), got {self.beta}")
        check(0 < self.held_out < 1, f"--held-out must be in (0, 1), got {self.held_out}")
        gold.check_gold_name(self.gold)
        for key in ("epochs", "rankings_per_batch", "lr", "max_new_tokens", "num_eval_prompts",
                    "eval_every", "checkpoint_every"):  # fmt: skip
            check_positive(f"--{key.replace('_', '-')}", getattr(self, key))


def pair_terms(
    model: GPT, reference: GPT, tokenizer, rankings: list[Ranking]
) -> tuple[torch.Tensor, ...]:
    """(log pi(y_w), log pi(y_l), log pi_ref(y_w), log pi_ref(y_l), mu) of every pair of the
    rankings; each response is scored once per ranking, not once per pair."""
    texts, first, second, mu = flatten_rankings(rankings)
    logp = response_logprobs(model, tokenizer, texts)
    with torch.no_grad():
        logp_ref = response_logprobs(reference, tokenizer, texts)
    w = torch.tensor(first, device=logp.device)
    lo = torch.tensor(second, device=logp.device)
    return logp[w], logp[lo], logp_ref[w], logp_ref[lo], torch.tensor(mu, device=logp.device)


def agreement(margin: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Per strict pair (mu 1 or 0): 1 if the margin r_pi(y_w) - r_pi(y_l) has the label's sign,
    0 if not, 0.5 if it is 0 (pi = pi_ref at the start: no preference, chance)."""
    strict = mu != 0.5
    right = ((margin > 0) == (mu == 1.0)).float()
    return torch.where(margin == 0, 0.5, right)[strict]


@torch.no_grad()
def implicit_accuracy(model, reference, tokenizer, rankings: list[Ranking], beta: float) -> dict:
    """How often the implicit reward orders a strict pair like the labeler, and its mean margin."""
    right, total, margins = 0, 0, []
    for start in range(0, len(rankings), 16):
        lw, ll, rw, rl, mu = pair_terms(model, reference, tokenizer, rankings[start : start + 16])
        margin = implicit_reward(lw, rw, beta) - implicit_reward(ll, rl, beta)
        right += float(agreement(margin, mu).sum())
        total += int((mu != 0.5).sum())
        margins.append(margin[mu != 0.5])
    return {
        "accuracy": right / total if total else float("nan"),
        "margin": float(torch.cat(margins).mean()) if total else float("nan"),
    }


def split_rankings(rankings: list[Ranking], held_out: float) -> tuple[list, list]:
    """(train, held out): the last `held_out` fraction of the groups, as `rlhf lm rm` splits."""
    n = max(r.group for r in rankings) + 1
    n_held = max(1, round(held_out * n))
    check(n - n_held >= 1, "too few rankings in the store to hold some out")
    train = [r for r in rankings if r.group < n - n_held]
    return train, [r for r in rankings if r.group >= n - n_held]


def dpo(cfg: DPOConfig, run: RunDir, on_step: Callable[[int, dict], None] | None = None) -> dict:
    """Fit the SFT model to the comparisons with the DPO loss; returns the summary."""
    cfg.validate()
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    store_path = run_store(cfg.preferences)
    (actor, reference, reward_model), tokenizer, rm_state = load_policy_and_reward_model(
        cfg, cfg.preferences, device
    )  # the reward model only scores the evaluation: DPO does not train on it
    task = rm_state.get("store_task", f"lm-text:{rm_state.get('gold', 'sentiment')}")
    store = PreferenceStore(store_path, task)
    try:
        rankings = read_rankings(store)
    finally:
        store.close()
    train, held = split_rankings(rankings, cfg.held_out)
    eval_prompts = instruction_prompts(cfg.num_eval_prompts, EVAL_PROMPT_SEED, cfg.prompts)
    policy = LMActorCritic(actor, None)
    reward_fn = reward_model_fn(reward_model)

    def generations() -> dict:
        return evaluate(policy, reference, reward_fn, tokenizer, eval_prompts, cfg, cfg.seed)

    optimizer = torch.optim.AdamW(actor.parameters(), lr=cfg.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train) / cfg.rankings_per_batch)
    total = cfg.epochs * steps_per_epoch
    order_rng = torch.Generator().manual_seed(cfg.seed)
    step, order = 0, None
    state = run.load_latest_checkpoint()
    if state is not None:
        step = restore_training(state, actor, optimizer, {"order_rng": order_rng})
        before, order = state["before"], state["order"]
    else:
        before = generations()
        before.update(
            {f"held_out_{k}": v for k, v in
             implicit_accuracy(actor, reference, tokenizer, held, cfg.beta).items()}
        )  # fmt: skip
        run.log(0, {k: v for k, v in before.items() if k != "samples"})

    start_time = time.time()
    actor.train()
    while step < total:
        if step % steps_per_epoch == 0 or order is None:
            order = torch.randperm(len(train), generator=order_rng).tolist()
        at = (step % steps_per_epoch) * cfg.rankings_per_batch
        batch = [train[i] for i in order[at : at + cfg.rankings_per_batch]]
        lw, ll, rw, rl, mu = pair_terms(actor, reference, tokenizer, batch)
        loss = dpo_loss(lw, ll, rw, rl, cfg.beta, mu)
        if not torch.isfinite(loss):
            raise ConfigError(
                f"the DPO loss is {loss.item()} at step {step + 1}; lower --lr or --beta "
                "(the last good checkpoint is kept)"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
        optimizer.step()
        step += 1
        lw, ll = lw.detach(), ll.detach()
        margin = implicit_reward(lw, rw, cfg.beta) - implicit_reward(ll, rl, cfg.beta)
        metrics = {
            "train_loss": loss.item(),
            "train_accuracy": float(agreement(margin, mu).mean()),
            "margin": float(margin[mu != 0.5].mean()),
            "chosen_logratio": float((lw - rw).mean()),  # log pi/pi_ref of the preferred
            "rejected_logratio": float((ll - rl).mean()),
            "epoch": step / steps_per_epoch,
        }
        if step % steps_per_epoch == 0 or step == total:
            ev = implicit_accuracy(actor, reference, tokenizer, held, cfg.beta)
            metrics.update({f"held_out_{k}": v for k, v in ev.items()})
        if step % cfg.eval_every == 0 or step == total:
            ev = generations()
            metrics.update({f"eval_{k}": v for k, v in ev.items() if k != "samples"})
        actor.train()
        run.log(step, metrics)
        if on_step is not None:
            on_step(step, metrics)
        if step % cfg.checkpoint_every == 0 or step == total:
            run.save_checkpoint(
                training_state(
                    actor,
                    tokenizer,
                    "dpo",
                    step,
                    optimizer,
                    {"order_rng": order_rng},
                    before=before,
                    order=order,
                ),  # fmt: skip
                step,
            )
    after = generations()
    after.update(
        {f"held_out_{k}": v for k, v in
         implicit_accuracy(actor, reference, tokenizer, held, cfg.beta).items()}
    )  # fmt: skip
    summary = {
        "before": before,
        "after": after,
        "beta": cfg.beta,
        "gold": cfg.gold,
        "prompts": cfg.prompts,
        "comparisons": sum(len(r.pairs) for r in train),
        "rankings": len(train),
        "held_out_rankings": len(held),
        "steps": step,
        "wall_time_s": time.time() - start_time,
    }
    run.write_summary(summary)
    return summary


def run_store(run_dir) -> Path:
    """The preference store of an `rlhf lm rm` run directory (its --store, or the default)."""
    run_dir = Path(run_dir)
    config = run_dir / "config.json"
    check(
        config.is_file(),
        f"'{run_dir}' is not a run directory of `rlhf lm rm`; pass one as --preferences",
    )
    store = json.loads(config.read_text()).get("store") or run_dir / "preferences.sqlite"
    check(
        Path(store).is_file(),
        f"'{run_dir}' holds no preference store ('{store}'): pass the run directory of "
        "`rlhf lm rm` as --preferences",
    )
    return Path(store)
