"""lm/reward_model.py: rankings -> K choose 2 comparisons in the store, the ranking loss,
accuracy, normalisation to mean 0 / std 1, and the checks that keep RM and policy apart."""

import json
from dataclasses import replace

import pytest
import torch
from rlhf_helpers import TOK

from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.reward_model import (
    Ranking,
    accuracy,
    collect_rankings,
    normalise,
    rank_pairs,
    ranking_loss,
    read_rankings,
    score_texts,
)
from rlhf_from_scratch.maths.bradley_terry import kwise_ranking_loss
from rlhf_from_scratch.preferences.segments import Segment
from rlhf_from_scratch.preferences.store import PreferenceStore
from rlhf_from_scratch.utils.errors import ConfigError

PROMPT = "Instruction: Write a positive review of the bakery.\nResponse: "


def tiny_reward_model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    cfg = GPTConfig(block_size=128, vocab_size=TOK.vocab_size, n_layer=1, n_head=2, n_embd=32)
    return GPT(replace(cfg, scalar_head="reward"))


def test_rank_pairs_lists_k_choose_2_pairs_best_first_with_ties():
    pairs = rank_pairs([0.2, 1.0, 0.2])  # order: 1, then 0 and 2 tied
    assert len(pairs) == 3
    assert (1, 0, 1.0) in pairs and (1, 2, 1.0) in pairs
    assert (0, 2, 0.5) in pairs


def test_collected_rankings_are_groups_of_k_choose_2_comparisons(tmp_path):
    policy = GPT(
        GPTConfig(block_size=96, vocab_size=TOK.vocab_size, n_layer=1, n_head=2, n_embd=32)
    )
    store = PreferenceStore(tmp_path / "p.sqlite", "lm-text:sentiment")
    prompts = [PROMPT, PROMPT.replace("positive", "negative"), PROMPT]
    collect_rankings(policy, TOK, prompts, 4, "sentiment", store, 12, chunk=2)
    assert len(store) == 3 * 6
    rows = store.comparisons()
    assert sorted({r[5] for r in rows}) == [0, 1, 2]
    rankings = read_rankings(store)
    assert [len(r.texts) for r in rankings] == [4, 4, 4]
    assert all(len(r.pairs) == 6 for r in rankings)
    first = store.text_comparisons()[0]
    assert set(first[3]) == {"prompt", "response"} and first[3]["prompt"] == PROMPT
    # resuming skips the rankings already in the store
    collect_rankings(policy, TOK, prompts, 4, "sentiment", store, 12, chunk=2)
    assert len(store) == 18
    store.close()


def test_text_comparisons_leave_clip_comparisons_out(tmp_path):
    import numpy as np

    store = PreferenceStore(tmp_path / "p.sqlite", "mixed")
    seg = Segment(np.zeros((2, 3)), np.zeros((2, 1)), np.zeros(2))
    store.add_segment_pair(seg, seg, 1.0, "oracle")
    a = store.add_item("text", json.dumps({"prompt": "p", "response": "good"}))
    b = store.add_item("text", json.dumps({"prompt": "p", "response": "bad"}))
    store.add_comparison(a, b, 1.0, "gold", group=7)
    rows = store.text_comparisons()
    assert len(rows) == 1 and rows[0][1] == 7 and rows[0][5]["response"] == "bad"
    assert len(store.segment_pairs()) == 1
    store.close()


def test_ranking_loss_is_instructgpts_kwise_loss():
    model = tiny_reward_model()
    texts = [(PROMPT, r) for r in ("Lovely.", "It was fine.", "Awful.", "Okay")]
    gold = torch.tensor([0.9, 0.5, -0.7, 0.5])  # a tie between 1 and 3
    ranking = Ranking(0, texts, rank_pairs(gold.tolist()))
    ranks = torch.tensor([[0, 1, 3, 1]])  # rank 0 = best; equal ranks are ties
    with torch.no_grad():
        ours = ranking_loss(model, TOK, [ranking])
        rewards = score_texts(model, TOK, texts)[None]
        reference = kwise_ranking_loss(rewards, ranks)
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)


def test_accuracy_counts_strict_pairs_only():
    model = tiny_reward_model()
    texts = [(PROMPT, "a"), (PROMPT, "bb")]
    with torch.no_grad():
        r = score_texts(model, TOK, texts)
    better, worse = (0, 1) if r[0] > r[1] else (1, 0)
    assert accuracy(model, TOK, [Ranking(0, texts, [(better, worse, 1.0)])]) == 1.0
    assert accuracy(model, TOK, [Ranking(0, texts, [(worse, better, 1.0)])]) == 0.0
    assert accuracy(model, TOK, [Ranking(0, texts, [(worse, better, 0.0)])]) == 1.0
    tie_only = accuracy(model, TOK, [Ranking(0, texts, [(0, 1, 0.5)])])
    assert tie_only != tie_only  # nan: no strict pair


def test_normalise_gives_mean_zero_std_one_on_the_samples():
    model = tiny_reward_model()
    texts = [(PROMPT, f"The bakery was {w}.") for w in ("good", "bad", "great", "awful", "odd")]
    mean, std = normalise(model, TOK, texts)
    with torch.no_grad():
        r = score_texts(model, TOK, texts)
    assert abs(r.mean().item()) < 1e-5 and r.std().item() == pytest.approx(1.0, abs=1e-4)
    assert std > 0


def test_reading_an_empty_store_is_refused(tmp_path):
    store = PreferenceStore(tmp_path / "p.sqlite", "t")
    with pytest.raises(ConfigError, match="holds no text comparisons"):
        read_rankings(store)
    store.close()
