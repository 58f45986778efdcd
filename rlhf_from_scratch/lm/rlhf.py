"""RLHF of the GPT (InstructGPT's step 3): the algorithms of `algos/`, unchanged, on tokens.

Lectures: ../shared/seeds/000 (InstructGPT: SFT -> RM -> PPO, PPO-ptx), 001 (the
KL-penalised objective, reward hacking and KL-control) and 004 (r = r_theta - lambda r_KL).

    maximise  E_{x ~ D, y ~ pi}[ r_theta(x, y) - beta log( pi(y|x) / pi_SFT(y|x) ) ]
              + gamma_ptx E_{x ~ D_pretrain}[ log pi(x) ]                        (PPO-ptx)

Pseudocode (per update):
    prompts   <- the next prompts_per_update prompts; K samples of each
    batch     <- rollout(pi, pi_SFT, r_theta)          (lm/rollout.py; advantages by the algo)
    metrics   <- algo.update(batch)                    (PPO, A2C, TRPO, REINFORCE/RLOO: --algo)
    beta      <- KL controller(measured KL)            (lm/kl_control.py)

The policy and the critic start from the SFT model and the reward model; pi_SFT stays frozen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import torch

from rlhf_from_scratch.algos.registry import get_algo
from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.ai_feedback import ai_reward_fn, ai_scores
from rlhf_from_scratch.lm.checkpoint import load_model, model_state, resolve_device
from rlhf_from_scratch.lm.corpus import generate_reviews
from rlhf_from_scratch.lm.kl_control import KLController
from rlhf_from_scratch.lm.model import GPT
from rlhf_from_scratch.lm.policy import LMActorCritic, autocast_for
from rlhf_from_scratch.lm.pretrain import get_batch
from rlhf_from_scratch.lm.prompts import (
    EVAL_PROMPT_SEED,
    RL_PROMPT_SEED,
    instruction_prompts,
    read_prompts,
)
from rlhf_from_scratch.lm.reward_model import check_policy_state, load_reward_model
from rlhf_from_scratch.lm.rollout import reward_model_fn, rollout
from rlhf_from_scratch.lm.sample import complete
from rlhf_from_scratch.lm.tokenizer import check_same
from rlhf_from_scratch.utils.errors import check, check_positive
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import rng_state, set_rng_state, set_seed

# The algorithms' settings for a language model (Ziegler et al. 2019; Huang et al. 2023 for
# PPO: gamma 1, lambda 0.95, 4 epochs, clip 0.2, vf_coef 0.1, clipped value loss). Only the
# keys an algorithm's config has are used; --lr overrides lr (TRPO: its value_lr).
LM_ALGO_SETTINGS: dict[str, dict] = {
    "ppo": dict(
        lr=1e-4, anneal_lr=False, gamma=1.0, lam=0.95, n_epochs=4, n_minibatches=4,
        clip=0.2, vf_coef=0.1, clip_value=True, max_grad_norm=1.0, ent_coef=0.0,
    ),
    "reinforce": dict(  # RLOO: K samples per prompt, b_i = mean reward of the other K - 1
        lr=1e-4, gamma=1.0, return_type="total", baseline="leave_one_out",
        normalize_advantages=True, max_grad_norm=1.0,
    ),
    "a2c": dict(
        lr=1e-4, anneal_lr=False, gamma=1.0, lam=0.95, vf_coef=0.1, ent_coef=0.0,
        optimizer="adam", normalize_advantages=True, max_grad_norm=1.0,
    ),
    "trpo": dict(gamma=1.0, lam=0.95, max_kl=0.01, value_lr=1e-4, value_epochs=4,
                 value_minibatches=4, cg_iters=10),
}  # fmt: skip


@dataclass
class RLHFConfig:
    policy: str = ""  # the SFT run directory (pi_SFT: the start and the frozen reference)
    reward_model: str = ""  # the `rlhf lm rm` run directory
    ai_judge: str = ""  # direct RLAIF instead: this GPT's AI-labeler score is the reward
    algo: str = "ppo"
    updates: int = 20  # rounds of sample, score, optimise
    prompts_per_update: int = 8  # prompts sampled per update
    samples_per_prompt: int = 4  # K (RLOO's leave-one-out groups)
    max_new_tokens: int = 120  # most tokens per response
    temperature: float = 1.0  # sampling temperature of the rollouts
    kl_coef: float = 0.05  # beta (the initial beta when adaptive)
    kl_target: float | None = None  # nats per response; None = a fixed beta
    kl_horizon: int = 10000  # adaptive beta: times 1 + e x n / horizon per update (e = KL /
    # target - 1, clipped to +-0.2; n: responses in the update)
    no_eos_penalty: float | None = -1.0
    ptx_coef: float = 0.0  # PPO-ptx gamma (0 = off)
    ptx_batch: int = 4
    lr: float | None = None
    num_prompts: int = 2000  # training prompts generated
    prompts_file: str | None = None
    num_eval_prompts: int = 48  # held-out prompts scored at each evaluation
    eval_every: int = 5
    checkpoint_every: int = 5
    gold: str | None = None  # the gold score to evaluate; None: the reward model's labeler
    prompts: str | None = None  # prompt set ("open", "all"); None: the reward model's
    seed: int = 1
    device: str = "auto"

    def validate(self) -> None:
        get_algo(self.algo)
        check(bool(self.policy), "lm rlhf needs --policy RUN_DIR (the SFT run)")
        check(
            bool(self.reward_model) != bool(self.ai_judge),
            "lm rlhf needs --reward-model RUN_DIR (the `lm rm` run) or, for direct RLAIF, "
            "--ai-judge RUN_DIR (a pretraining or SFT run), not both",
        )
        check(
            self.kl_coef >= 0,
            f"--kl-coef (beta) must be >= 0, got {self.kl_coef}; use 0 for no KL penalty",
        )
        check(self.ptx_coef >= 0, f"--ptx-coef must be >= 0, got {self.ptx_coef}")
        check(
            self.ptx_coef == 0 or self.algo == "ppo",
            f"--ptx-coef is PPO-ptx: it needs --algo ppo, not '{self.algo}'",
        )
        check(
            self.samples_per_prompt >= 2 or self.algo != "reinforce",
            "RLOO (--algo reinforce) needs --samples-per-prompt >= 2 (K samples per prompt)",
        )
        gold.check_gold_name(self.gold)
        for key in ("updates", "prompts_per_update", "samples_per_prompt", "max_new_tokens",
                    "temperature", "eval_every", "checkpoint_every", "num_eval_prompts"):  # fmt: skip
            check_positive(f"--{key.replace('_', '-')}", getattr(self, key))


def algo_config(name: str, lr: float | None):
    """The algorithm's config dataclass with the LM settings (and --lr)."""
    algo_class, config_class = get_algo(name)
    names = {f.name for f in fields(config_class)}
    values = {k: v for k, v in LM_ALGO_SETTINGS[name].items() if k in names}
    if lr is not None:
        values["value_lr" if name == "trpo" else "lr"] = lr
    return algo_class, config_class(**values)


# ---- evaluation -------------------------------------------------------------------------------
def repetition(text: str) -> float:
    """The fraction of a text's word bigrams that repeat an earlier one (0 = none)."""
    words = re.findall(r"[a-z']+", text.lower())
    bigrams = list(zip(words, words[1:], strict=False))
    return 1 - len(set(bigrams)) / len(bigrams) if bigrams else 0.0


@torch.no_grad()
def evaluate(policy, reference, reward_fn, tokenizer, prompts, cfg: RLHFConfig, seed: int) -> dict:
    """Gold reward, RM score, KL to pi_SFT, grammaticality, repetition on held-out prompts
    (one sample each, at the training temperature; the same seed every time)."""
    generator = torch.Generator(device=next(policy.parameters()).device).manual_seed(seed)
    ro = rollout(
        policy, reference, reward_fn, tokenizer, prompts, 1, 0.0,
        lambda r, v, te, tr, g: (r, r, torch.ones_like(r)), cfg.max_new_tokens,
        None, generator,
    )  # fmt: skip
    n = len(prompts)
    golds = [gold.score(cfg.gold, p, r) for p, r in zip(prompts, ro.responses, strict=True)]
    return {
        "gold_reward": sum(golds) / n,
        "rm_score": float(ro.score.mean()),
        "kl": float(ro.kl.mean()),
        "grammar": sum(gold.grammaticality(r) for r in ro.responses) / n,
        "repetition": sum(repetition(r) for r in ro.responses) / n,
        "ended": float(ro.ended.float().mean()),
        "response_chars": sum(len(r) for r in ro.responses) / n,
        "samples": [  # every prompt's: the win rate of one run against another compares them
            {"prompt": p, "response": r, "gold": g}
            for p, r, g in zip(prompts, ro.responses, golds, strict=True)
        ],
    }


# ---- the loop ---------------------------------------------------------------------------------
def load_policy_and_reward_model(cfg, reward_model_path, device: torch.device):
    """((actor, reference, reward model), tokenizer, the RM's checkpoint state): the policy run
    loaded twice (the reference is a frozen copy), the reward model frozen, their tokenizers
    checked against each other. cfg.gold and cfg.prompts default to the reward model's."""
    actor, tokenizer, state = load_model(cfg.policy)
    check_policy_state(state, cfg.policy)
    reward_model, _, rm_state = load_reward_model(reward_model_path, tokenizer)
    # Evaluate with the labeler the reward model learned from, on its prompt set.
    cfg.gold = cfg.gold or rm_state.get("gold", "sentiment")
    cfg.prompts = cfg.prompts or rm_state.get("prompts", "all")
    reference, _, _ = load_model(cfg.policy)
    for model in (reference, reward_model):
        model.requires_grad_(False).eval()
    return [m.to(device) for m in (actor, reference, reward_model)], tokenizer, rm_state


def load_models(cfg: RLHFConfig, device: torch.device):
    """((actor, reference, critic), reward function, tokenizer), checked against each other.

    With a reward model the critic is its trunk with a zero-initialised value head
    (InstructGPT). Direct RLAIF (cfg.ai_judge) has no reward model: the reward is the judge's
    AI-labeler score, normalised on SFT samples, and the critic starts from the policy's trunk.
    """
    if not cfg.ai_judge:
        (actor, reference, reward_model), tokenizer, _ = load_policy_and_reward_model(
            cfg, cfg.reward_model, device
        )
        reward_fn, trunk_model = reward_model_fn(reward_model), reward_model
    else:
        actor, tokenizer, state = load_model(cfg.policy)
        check_policy_state(state, cfg.policy)
        judge, _, judge_state = load_model(cfg.ai_judge)
        check_policy_state(judge_state, cfg.ai_judge)
        check_same(judge_state["tokenizer"], tokenizer.identity(), f"judge '{cfg.ai_judge}'")
        cfg.gold, cfg.prompts = cfg.gold or "sentiment", cfg.prompts or "open"
        reference, _, _ = load_model(cfg.policy)
        for model in (reference, judge):
            model.requires_grad_(False).eval()
        actor, reference, judge = (m.to(device) for m in (actor, reference, judge))
        reward_fn, trunk_model = ai_reward_on_sft_scale(judge, reference, tokenizer, cfg), actor
    critic = GPT(replace(trunk_model.config, scalar_head="value"))  # zero-initialised head
    trunk = {k: v for k, v in trunk_model.state_dict().items() if not k.startswith("scalar")}
    critic.load_state_dict(trunk, strict=False)
    return (actor, reference, critic.to(device)), reward_fn, tokenizer


def ai_reward_on_sft_scale(judge: GPT, sft: GPT, tokenizer, cfg: RLHFConfig, n: int = 64):
    """Direct RLAIF's reward, shifted and scaled to mean 0 / std 1 on n SFT samples of the RL
    prompts, as a reward model is normalised (the same samples every time: a resumed run
    gets the same scale)."""
    prompts = instruction_prompts(n, RL_PROMPT_SEED, cfg.prompts)
    responses = complete(sft, tokenizer, prompts, cfg.max_new_tokens, cfg.temperature, seed=0)
    scores = torch.tensor(ai_scores(judge, tokenizer, list(zip(prompts, responses, strict=True))))
    return ai_reward_fn(judge, tokenizer, float(scores.mean()), float(scores.std().clamp(1e-6)))


def pretraining_loss(actor: GPT, tokenizer, batch_size: int, seed: int):
    """PPO-ptx's extra term: -gamma_ptx E_pretrain[log pi(x)] on windows of review text."""
    reviews = generate_reviews(2000, seed=seed)
    ids = []
    for r in reviews:
        ids += [tokenizer.eot_id] + tokenizer.encode(r.text)
    ids = torch.tensor(ids, dtype=torch.long)
    window = min(128, actor.config.block_size)
    generator = torch.Generator().manual_seed(seed)
    device = next(actor.parameters()).device

    def nll() -> torch.Tensor:
        x, y = get_batch(ids, batch_size, window, generator)
        with autocast_for(device):
            return actor(x.to(device), y.to(device))[1]

    return nll


def rlhf(cfg: RLHFConfig, run: RunDir, on_step: Callable[[int, dict], None] | None = None):
    """Run cfg.updates rollouts + algorithm updates; returns the summary."""
    cfg.validate()
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    (actor, reference, critic), reward_fn, tokenizer = load_models(cfg, device)
    if cfg.prompts_file:
        prompts = read_prompts(cfg.prompts_file)
        eval_prompts = prompts[: cfg.num_eval_prompts]
    else:
        prompts = instruction_prompts(cfg.num_prompts, RL_PROMPT_SEED, cfg.prompts)
        eval_prompts = instruction_prompts(cfg.num_eval_prompts, EVAL_PROMPT_SEED, cfg.prompts)
    # TRPO differentiates twice through pi (Fisher-vector products): a kernel that allows it.
    policy = LMActorCritic(actor, critic, cfg.temperature, second_order=cfg.algo == "trpo")
    algo_class, algo_cfg = algo_config(cfg.algo, cfg.lr)
    kwargs = {}
    if cfg.ptx_coef > 0:
        nll = pretraining_loss(actor, tokenizer, cfg.ptx_batch, cfg.seed)
        kwargs["extra_loss"] = lambda: cfg.ptx_coef * nll()
    algo = algo_class(policy, algo_cfg, cfg.updates, **kwargs)
    kl_control = KLController(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    update_rng = torch.Generator().manual_seed(cfg.seed + 1)
    step = 0
    state = run.load_latest_checkpoint()
    if state is not None:
        actor.load_state_dict(state["model"])
        critic.load_state_dict(state["critic"])
        algo.load_state_dict(state["algo"])
        kl_control.load_state_dict(state["kl_control"])
        generator.set_state(state["generator"])
        update_rng.set_state(state["update_rng"])
        set_rng_state(state["rng"])
        step, before = state["step"], state["before"]
    else:
        before = evaluate(policy, reference, reward_fn, tokenizer, eval_prompts, cfg, cfg.seed)
        run.log(0, {k: v for k, v in before.items() if k != "samples"})

    start_time = time.time()
    n_per = cfg.prompts_per_update
    while step < cfg.updates:
        at = (step * n_per) % len(prompts)
        batch_prompts = (prompts[at:] + prompts)[:n_per]
        ro = rollout(
            policy, reference, reward_fn, tokenizer, batch_prompts, cfg.samples_per_prompt,
            kl_control.beta, algo.estimate, cfg.max_new_tokens, cfg.no_eos_penalty, generator,
        )  # fmt: skip
        metrics = algo.update(ro.batch, update_rng)
        kl = float(ro.kl.mean())
        metrics.update(
            rm_score=float(ro.score.mean()),
            kl=kl,
            beta=kl_control.beta,
            reward=float(ro.rewards.sum(1).mean()),
            ended=float(ro.ended.float().mean()),
        )
        kl_control.update(kl, len(ro.responses))
        step += 1
        if step % cfg.eval_every == 0 or step == cfg.updates:
            ev = evaluate(policy, reference, reward_fn, tokenizer, eval_prompts, cfg, cfg.seed)
            metrics.update({f"eval_{k}": v for k, v in ev.items() if k != "samples"})
        run.log(step, metrics)
        if on_step is not None:
            on_step(step, metrics)
        if step % cfg.checkpoint_every == 0 or step == cfg.updates:
            run.save_checkpoint(
                {
                    **model_state(actor, tokenizer, "rlhf"),
                    "critic": critic.state_dict(),
                    "algo": algo.state_dict(),
                    "kl_control": kl_control.state_dict(),
                    "generator": generator.get_state(),
                    "update_rng": update_rng.get_state(),
                    "rng": rng_state(),
                    "step": step,
                    "before": before,
                },
                step,
            )
    after = evaluate(policy, reference, reward_fn, tokenizer, eval_prompts, cfg, cfg.seed)
    summary = {
        "algo": cfg.algo,
        "gold": cfg.gold,
        "prompts": cfg.prompts,
        "before": before,
        "after": after,
        "updates": step,
        "final_beta": kl_control.beta,
        "wall_time_s": time.time() - start_time,
    }
    run.write_summary(summary)
    return summary
