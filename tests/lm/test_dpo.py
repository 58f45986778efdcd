"""lm/dpo.py: the DPO loss against hand computation, its invariance to log Z(x), the sequence
log-probabilities it needs, and one gradient step that moves the policy toward y_w."""

import math

import pytest
import torch
from rlhf_helpers import TOK

from rlhf_from_scratch.lm.dpo import dpo_loss, implicit_reward, response_logprobs
from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.sft import collate, encode_pair
from rlhf_from_scratch.maths.bradley_terry import bradley_terry_loss

PROMPT = "Instruction: Write a review of the bakery.\nResponse: "


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=96, vocab_size=TOK.vocab_size, n_layer=1, n_head=2, n_embd=32))


def test_dpo_loss_by_hand():
    # log-ratios +1 (preferred) and -1 (rejected), beta 0.5: -log sigma(0.5 - (-0.5)) = -log sigma(1)
    loss = dpo_loss(
        torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([-11.0]), torch.tensor([-11.0]),
        beta=0.5,
    )  # fmt: skip
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1.0)), abs=1e-6)


def test_dpo_loss_is_log_2_at_the_reference_and_a_tie_pulls_the_pair_together():
    lw, ll = torch.tensor([-5.0, -7.0]), torch.tensor([-6.0, -4.0])
    assert dpo_loss(lw, ll, lw, ll, beta=0.1).item() == pytest.approx(math.log(2))
    # mu = 0.5 is smallest where the implicit rewards are equal
    ties = [dpo_loss(torch.tensor([d]), torch.tensor([0.0]), torch.tensor([0.0]),
                     torch.tensor([0.0]), beta=1.0, mu=0.5).item() for d in (-1.0, 0.0, 1.0)]  # fmt: skip
    assert ties[1] < ties[0] and ties[1] < ties[2]


def test_dpo_is_bradley_terry_on_the_implicit_reward_and_log_z_cancels():
    g = torch.Generator().manual_seed(0)
    lw, ll, rw, rl = (torch.randn(16, generator=g) * 3 for _ in range(4))
    mu = torch.rand(16, generator=g).round()
    beta = 0.3
    loss = dpo_loss(lw, ll, rw, rl, beta, mu)
    bt = bradley_terry_loss(implicit_reward(lw, rw, beta), implicit_reward(ll, rl, beta), mu)
    assert loss.item() == pytest.approx(bt.item())
    # beta log Z(x) is the same for both responses to a prompt: adding it changes nothing
    log_z = torch.randn(16, generator=g) * 5
    shifted = bradley_terry_loss(
        implicit_reward(lw, rw, beta) + log_z, implicit_reward(ll, rl, beta) + log_z, mu
    )
    assert shifted.item() == pytest.approx(loss.item(), abs=1e-5)


def test_response_logprobs_sum_the_sft_loss_terms():
    model = tiny_gpt().eval()
    texts = [(PROMPT, "I loved it."), (PROMPT, "The bread was stale and the staff rude.")]
    logp = response_logprobs(model, TOK, texts)
    for (prompt, response), value in zip(texts, logp, strict=True):
        x, y = collate([encode_pair(TOK, prompt, response)], TOK.pad_id)
        _, mean_nll = model(x, y)
        n_tokens = len(TOK.encode(response)) + 1  # the response and its end of text
        assert value.item() == pytest.approx(-mean_nll.item() * n_tokens, rel=1e-5)


def test_one_dpo_step_raises_the_preferred_responses_implicit_reward():
    model, reference = tiny_gpt(), tiny_gpt()
    reference.requires_grad_(False)
    chosen, rejected = [(PROMPT, "I loved the bakery.")], [(PROMPT, "I hated the bakery.")]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

    def margin():
        with torch.no_grad():
            rw = implicit_reward(response_logprobs(model, TOK, chosen),
                                 response_logprobs(reference, TOK, chosen), 1.0)  # fmt: skip
            rl = implicit_reward(response_logprobs(model, TOK, rejected),
                                 response_logprobs(reference, TOK, rejected), 1.0)  # fmt: skip
        return float(rw - rl)

    assert margin() == pytest.approx(0.0, abs=1e-6)  # pi = pi_ref: no preference yet
    for _ in range(3):
        loss = dpo_loss(
            response_logprobs(model, TOK, chosen), response_logprobs(model, TOK, rejected),
            response_logprobs(reference, TOK, chosen), response_logprobs(reference, TOK, rejected),
            beta=1.0,
        )  # fmt: skip
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert margin() > 0.5


def test_agreement_counts_strict_pairs_and_gives_half_for_no_preference():
    from rlhf_from_scratch.lm.dpo import agreement

    margin = torch.tensor([0.0, 1.0, -1.0, 2.0, -0.5])
    mu = torch.tensor([1.0, 1.0, 1.0, 0.5, 0.0])
    assert agreement(margin, mu).tolist() == [0.5, 1.0, 0.0, 1.0]  # the tie is left out
