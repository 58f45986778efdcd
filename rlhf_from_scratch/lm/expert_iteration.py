"""Expert iteration (rejection-sampling fine-tuning): best-of-n, then SFT on what was kept.

Lecture 003 ("controlled comparisons": expert iteration beside PPO and best-of-n, Dubois et al.
2023) and 000 (Llama 2 fine-tunes on the best of its own samples before PPO). One round:

    for each training prompt x:   y_1 .. y_n ~ pi(.|x),   y* = argmax_i r_theta(x, y_i)
    pi <- argmin_pi  - sum_(x, y*) log pi(y* | x)          (the SFT loss, response tokens only)

Best-of-n pays n samples at every use; expert iteration pays them once, on training prompts,
and distils the choice into the weights. Rounds repeat it with the improved policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.best_of_n import sample_and_score
from rlhf_from_scratch.lm.checkpoint import resolve_device, restore_training, training_state
from rlhf_from_scratch.lm.policy import LMActorCritic
from rlhf_from_scratch.lm.pretrain import make_optimizer
from rlhf_from_scratch.lm.prompts import EVAL_PROMPT_SEED, RL_PROMPT_SEED, instruction_prompts
from rlhf_from_scratch.lm.rlhf import evaluate, load_policy_and_reward_model
from rlhf_from_scratch.lm.rollout import reward_model_fn
from rlhf_from_scratch.lm.sft import collate, encode_pair
from rlhf_from_scratch.utils.errors import check, check_positive
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import set_seed


@dataclass
class ExpertIterationConfig:
    policy: str = ""  # the SFT run directory: the start, and pi_SFT for the KL
    reward_model: str = ""  # the `rlhf lm rm` run directory: it picks the best of n
    rounds: int = 2
    prompts_per_round: int = 64
    n: int = 8  # samples per prompt; the RM keeps one
    epochs: int = 3  # passes over a round's kept responses
    batch_size: int = 16
    lr: float = 1e-4
    max_new_tokens: int = 120  # most tokens per response
    temperature: float = 1.0  # sampling temperature of the n samples
    num_eval_prompts: int = 48  # held-out prompts scored before and after
    gold: str | None = None  # None: the reward model's labeler
    prompts: str | None = None  # None: the reward model's prompt set
    seed: int = 1
    device: str = "auto"

    def validate(self) -> None:
        check(bool(self.policy), "lm expert-iteration needs --policy RUN_DIR (the SFT run)")
        check(bool(self.reward_model), "lm expert-iteration needs --reward-model RUN_DIR")
        check(self.n >= 2, f"--n must be >= 2 (the best of n samples is kept), got {self.n}")
        gold.check_gold_name(self.gold)
        for key in ("rounds", "prompts_per_round", "epochs", "batch_size", "lr",
                    "max_new_tokens", "temperature", "num_eval_prompts"):  # fmt: skip
            check_positive(f"--{key.replace('_', '-')}", getattr(self, key))


def fine_tune(actor, tokenizer, texts, optimizer, epochs: int, batch_size: int, generator):
    """The SFT loss on (prompt, response) pairs, `epochs` shuffled passes; returns the losses."""
    pairs = [encode_pair(tokenizer, p, r) for p, r in texts]
    pairs = [(x, y) for x, y in pairs if len(x) <= actor.config.block_size]
    device = next(actor.parameters()).device
    actor.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            x, y = collate([pairs[i] for i in order[start : start + batch_size]], tokenizer.pad_id)
            _, loss = actor(x.to(device), y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
    return losses


def expert_iteration(
    cfg: ExpertIterationConfig, run: RunDir, on_step: Callable[[int, dict], None] | None = None
) -> dict:
    """cfg.rounds rounds of best-of-n on fresh training prompts + SFT on the kept responses."""
    cfg.validate()
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    (actor, reference, reward_model), tokenizer, _ = load_policy_and_reward_model(
        cfg, cfg.reward_model, device
    )
    train_prompts = instruction_prompts(
        cfg.rounds * cfg.prompts_per_round, RL_PROMPT_SEED, cfg.prompts
    )
    eval_prompts = instruction_prompts(cfg.num_eval_prompts, EVAL_PROMPT_SEED, cfg.prompts)
    policy = LMActorCritic(actor, None, cfg.temperature)
    reward_fn = reward_model_fn(reward_model)
    optimizer = make_optimizer(actor, cfg.lr, 0.0, device)
    generator = torch.Generator().manual_seed(cfg.seed)

    def generations() -> dict:
        return evaluate(policy, reference, reward_fn, tokenizer, eval_prompts, cfg, cfg.seed)

    step = 0  # completed rounds: a killed run restarts the round it was in
    state = run.load_latest_checkpoint()
    if state is not None:
        step = restore_training(state, actor, optimizer, {"generator": generator})
        before = state["before"]
    else:
        before = generations()
        run.log(0, {k: v for k, v in before.items() if k != "samples"})
    start_time = time.time()
    while step < cfg.rounds:
        at = step * cfg.prompts_per_round
        samples = sample_and_score(
            actor, reward_model, tokenizer, train_prompts[at : at + cfg.prompts_per_round],
            cfg.n, cfg.gold, cfg.max_new_tokens, cfg.temperature, seed=cfg.seed + 10_000 * step,
        )  # fmt: skip
        losses = fine_tune(
            actor, tokenizer, samples.kept(cfg.n), optimizer, cfg.epochs, cfg.batch_size,
            generator,
        )  # fmt: skip
        step += 1
        kept = samples.best_of(cfg.n)
        metrics = {
            "train_loss": sum(losses) / len(losses),
            "kept_rm_score": kept["rm_score"],
            "kept_gold": kept["gold_reward"],
            "sampled_rm_score": float(samples.rm_scores.mean()),
            "sampled_gold": float(samples.gold_scores.mean()),
        }
        metrics.update({f"eval_{k}": v for k, v in generations().items() if k != "samples"})
        run.log(step, metrics)
        if on_step is not None:
            on_step(step, metrics)
        run.save_checkpoint(
            training_state(
                actor,
                tokenizer,
                "expert_iteration",
                step,
                optimizer,
                {"generator": generator},
                before=before,
            ),  # fmt: skip
            step,
        )
    summary = {
        "before": before,
        "after": generations(),
        "gold": cfg.gold,
        "prompts": cfg.prompts,
        "rounds": step,
        "generations": step * cfg.prompts_per_round * cfg.n,
        "wall_time_s": time.time() - start_time,
    }
    run.write_summary(summary)
    return summary
