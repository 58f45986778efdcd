"""Best-of-n sampling: optimise against the reward model at inference time, no training.

Lecture 003 ("controlled comparisons": best-of-n is nearly as good as PPO in Dubois et al.
2023) and 000 (Llama 2's rejection sampling keeps the best of n samples). Draw n responses from
pi, keep the one the reward model scores highest:

    y* = argmax_{y_i, i = 1..n} r_theta(x, y_i),     y_i ~ pi(.|x) independently

Its distribution moves away from pi by (Stiennon et al. 2020, appendix; an upper bound, reached
when no single response carries a noticeable share of pi's probability, as with long sampled
texts; Beirami et al. 2024)

    KL( pi_best-of-n || pi ) <= log n - (n - 1) / n

so n plays the part of beta: more n, more reward-model score, more KL. Against the gold labeler
the reward model's errors show: its score keeps rising with n, the gold reward need not (Gao et
al. 2023, "reward-model overoptimisation").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.checkpoint import resolve_device
from rlhf_from_scratch.lm.prompts import EVAL_PROMPT_SEED, instruction_prompts
from rlhf_from_scratch.lm.reward_model import score_texts
from rlhf_from_scratch.lm.rlhf import load_policy_and_reward_model, repetition
from rlhf_from_scratch.lm.sample import complete
from rlhf_from_scratch.utils.errors import check, check_positive
from rlhf_from_scratch.utils.rundir import RunDir
from rlhf_from_scratch.utils.seeding import set_seed


def best_of_n_kl(n: int) -> float:
    """KL(best-of-n || pi) <= log n - (n - 1) / n, in nats (0 for n = 1); the bound is
    reached when pi spreads its mass over many responses."""
    check_positive("n", n)
    return math.log(n) - (n - 1) / n


def best_of(scores: torch.Tensor) -> torch.Tensor:
    """The index of the highest-scored of the n samples of each prompt: scores [P, n] -> [P]."""
    return scores.argmax(-1)


@dataclass
class Samples:
    """n responses to each of P prompts, with the reward model's and the gold labeler's scores."""

    prompts: list[str]
    responses: list[list[str]]  # [P][n]
    rm_scores: torch.Tensor  # [P, n]
    gold_scores: torch.Tensor  # [P, n]

    def kept(self, n: int) -> list[tuple[str, str]]:
        """(prompt, the RM's favourite among its first n responses) for every prompt."""
        keep = best_of(self.rm_scores[:, :n]).tolist()
        return [(p, r[k]) for p, r, k in zip(self.prompts, self.responses, keep, strict=True)]

    def best_of(self, n: int) -> dict:
        """Best-of-n from the first n samples of each prompt: mean RM score and gold reward of
        the kept responses, their win rate against the first sample (a plain sample of pi), the
        analytic KL, and how grammatical, repetitive and long they are."""
        check(1 <= n <= self.rm_scores.shape[1], f"n must be in 1..{self.rm_scores.shape[1]}")
        keep = best_of(self.rm_scores[:, :n])
        rows = torch.arange(len(self.prompts))
        kept = [self.responses[i][j] for i, j in enumerate(keep.tolist())]
        kept_gold = self.gold_scores[rows, keep]
        return {
            "n": n,
            "rm_score": float(self.rm_scores[rows, keep].mean()),
            "gold_reward": float(kept_gold.mean()),
            "win_rate": gold.win_rate(kept_gold.tolist(), self.gold_scores[:, 0].tolist()),
            "kl_bound": best_of_n_kl(n),
            "grammar": sum(gold.grammaticality(r) for r in kept) / len(kept),
            "repetition": sum(repetition(r) for r in kept) / len(kept),
            "response_chars": sum(len(r) for r in kept) / len(kept),
        }


@torch.no_grad()
def sample_and_score(
    policy,
    reward_model,
    tokenizer,
    prompts: list[str],
    n: int,
    gold_kind: str,
    max_new_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> Samples:
    """n samples of pi per prompt, each scored by the reward model and by the gold labeler."""
    check_positive("n", n)
    responses, rm_scores = [], []
    chunk = max(1, 64 // n)  # prompts per generation batch
    for start in range(0, len(prompts), chunk):
        part = prompts[start : start + chunk]
        shown = [p for p in part for _ in range(n)]
        texts = complete(policy, tokenizer, shown, max_new_tokens, temperature, seed=seed + start)
        scores = score_texts(reward_model, tokenizer, list(zip(shown, texts, strict=True)))
        responses += [texts[i * n : (i + 1) * n] for i in range(len(part))]
        rm_scores.append(scores.float().cpu().view(len(part), n))
        if on_progress is not None:
            on_progress(start + len(part))
    golds = [
        [gold.score(gold_kind, p, t) for t in texts]
        for p, texts in zip(prompts, responses, strict=True)
    ]
    return Samples(prompts, responses, torch.cat(rm_scores), torch.tensor(golds))


# ---- the command: rlhf lm best-of-n ---------------------------------------------------------
@dataclass
class BestOfNConfig:
    policy: str = ""  # the SFT run directory (or any policy run)
    reward_model: str = ""  # the `rlhf lm rm` run directory
    n: int = 16  # the largest n; every power of two up to it is reported
    num_eval_prompts: int = 48  # held-out prompts, n samples each
    max_new_tokens: int = 120  # most tokens per response
    temperature: float = 1.0  # sampling temperature
    gold: str | None = None  # None: the reward model's labeler
    prompts: str | None = None  # None: the reward model's prompt set
    seed: int = 1  # seeds the sampling
    device: str = "auto"

    def validate(self) -> None:
        check(bool(self.policy), "lm best-of-n needs --policy RUN_DIR (the SFT run)")
        check(bool(self.reward_model), "lm best-of-n needs --reward-model RUN_DIR")
        gold.check_gold_name(self.gold)
        for key in ("n", "num_eval_prompts", "max_new_tokens", "temperature"):
            check_positive(f"--{key.replace('_', '-')}", getattr(self, key))


def sweep(n: int) -> list[int]:
    """1, 2, 4, ... up to n (and n itself)."""
    ns = [2**k for k in range(n.bit_length()) if 2**k <= n]
    return ns if ns[-1] == n else [*ns, n]


def best_of_n_run(
    cfg: BestOfNConfig, run: RunDir, on_progress: Callable[[int], None] | None = None
) -> dict:
    """Sample cfg.n responses per held-out prompt once, report best-of-n for n = 1, 2, 4, ..."""
    cfg.validate()
    device = resolve_device(cfg.device)
    set_seed(cfg.seed)
    (policy, _, reward_model), tokenizer, _ = load_policy_and_reward_model(
        cfg, cfg.reward_model, device
    )
    policy.eval()
    prompts = instruction_prompts(cfg.num_eval_prompts, EVAL_PROMPT_SEED, cfg.prompts)
    start = time.time()
    samples = sample_and_score(
        policy, reward_model, tokenizer, prompts, cfg.n, cfg.gold, cfg.max_new_tokens,
        cfg.temperature, cfg.seed, on_progress,
    )  # fmt: skip
    rows = [samples.best_of(n) for n in sweep(cfg.n)]
    for row in rows:
        run.log(row["n"], row)
    best = best_of(samples.rm_scores)
    summary = {
        "gold": cfg.gold,
        "prompts": cfg.prompts,
        "rows": rows,
        "samples": [
            {
                "prompt": p,
                "first": r[0],
                "best": r[b],
                "gold_first": float(g[0]),
                "gold_best": float(g[b]),
            }
            for p, r, g, b in zip(
                prompts, samples.responses, samples.gold_scores, best.tolist(), strict=True
            )
        ],
        "generations": cfg.n * len(prompts),
        "wall_time_s": time.time() - start,
    }
    run.write_summary(summary)
    plot_best_of_n(rows, run.path / "best_of_n.png", f"best-of-n against '{cfg.gold}'")
    return summary


def plot_best_of_n(rows: list[dict], out, title: str = ""):
    """Reward-model score and gold reward of best-of-n against its KL (the n on top)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kl = [r["kl_bound"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(kl, [r["rm_score"] for r in rows], marker="o", label="reward-model score")
    ax.plot(kl, [r["gold_reward"] for r in rows], marker="s", label="gold reward")
    for r in rows:
        ax.annotate(f"n={r['n']}", (r["kl_bound"], r["rm_score"]), fontsize=7,
                    textcoords="offset points", xytext=(2, 4))  # fmt: skip
    ax.set_xlabel("log n - (n-1)/n: the KL(best-of-n || pi) bound, nats")
    ax.set_ylabel("mean over held-out prompts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
