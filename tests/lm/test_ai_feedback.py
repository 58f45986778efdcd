"""lm/ai_feedback.py: the AI labeler's score is the judge's log-probability of praise minus that
of condemnation after each response; batching and padding change nothing; agreement counts."""

import pytest
import torch
from rlhf_helpers import TOK

from rlhf_from_scratch.lm.ai_feedback import (
    PROBES,
    agreement,
    ai_scores,
    continuation_logprobs,
    probes_for,
)
from rlhf_from_scratch.lm.model import GPT, GPTConfig

PROMPT = "Instruction: Write a review of the bakery in two sentences.\nResponse: "


def tiny_judge() -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(block_size=160, vocab_size=TOK.vocab_size, n_layer=1, n_head=2, n_embd=32)
    return GPT(cfg).eval()


def one_by_one(judge, context: str, continuation: str) -> float:
    ctx = [TOK.eot_id] + TOK.encode(context.strip())
    cont = TOK.encode(" " + continuation)
    logp = judge.logprobs(torch.tensor([ctx + cont]))[0]
    return logp[-len(cont) :].sum().item()


def test_probes_name_the_prompts_topic():
    assert probes_for(PROMPT)[0] == (
        "I would happily recommend the bakery to everyone.",
        "I would never recommend the bakery to anyone.",
    )
    assert probes_for("Say something.")[1] == ("I loved it.", "I hated it.")


def test_batched_continuations_match_one_at_a_time():
    judge = tiny_judge()
    contexts = [
        "I loved the bakery.",
        "The bread was stale. I did not enjoy the bakery at all.",
        "",
    ]
    continuations = ["I loved it.", "I would never recommend the bakery to anyone.", "Hi."]
    batched = continuation_logprobs(judge, TOK, contexts, continuations)
    for i, (c, k) in enumerate(zip(contexts, continuations, strict=True)):
        assert batched[i].item() == pytest.approx(one_by_one(judge, c, k), abs=1e-4)


def test_ai_score_is_the_mean_log_ratio_of_praise_to_condemnation():
    judge = tiny_judge()
    texts = [(PROMPT, "I loved the bakery. The staff were lovely."), (PROMPT, "I hated it.")]
    scores = ai_scores(judge, TOK, texts, batch_size=1)
    for (prompt, response), score in zip(texts, scores, strict=True):
        expected = sum(
            one_by_one(judge, response, pos) - one_by_one(judge, response, neg)
            for pos, neg in probes_for(prompt)
        ) / len(PROBES)
        assert score == pytest.approx(expected, abs=1e-4)
    assert ai_scores(judge, TOK, texts, batch_size=2) == pytest.approx(scores, abs=1e-4)


def test_agreement_counts_the_pairs_the_gold_scores_order():
    pairs = [(0, 1, 1.0), (1, 2, 1.0), (0, 2, 0.5), (2, 3, 1.0)]
    gold_scores = [0.9, 0.1, 0.5, 0.5]  # pair (2, 3) is a gold tie: left out
    # (0, 1) agrees, (1, 2) disagrees, (0, 2) an AI tie: half
    assert agreement(pairs, gold_scores) == (pytest.approx(1.5 / 3), 3)


def test_direct_rlaif_reward_reads_prompt_and_response_back_from_tokens():
    from rlhf_from_scratch.lm.ai_feedback import ai_reward_fn
    from rlhf_from_scratch.lm.model import left_pad
    from rlhf_from_scratch.lm.prompts import sequence_ids, split_sequence

    assert split_sequence(PROMPT + "I loved it.") == (PROMPT, "I loved it.")
    judge = tiny_judge()
    texts = [(PROMPT, "I loved the bakery."), (PROMPT, "It was a sad stay at the bakery.")]
    tokens, mask = left_pad([sequence_ids(TOK, p, r) for p, r in texts], TOK.pad_id)
    reward = ai_reward_fn(judge, TOK, shift=0.5, scale=2.0)(tokens, mask)
    expected = (torch.tensor(ai_scores(judge, TOK, texts)) - 0.5) / 2.0
    assert torch.allclose(reward, expected, atol=1e-5)
