"""The GPT: causality, KV cache, padding, log-probabilities, scalar heads, learning."""

import math

import pytest
import torch
import torch.nn.functional as F

from rlhf_from_scratch.lm.model import GPT, GPTConfig, left_pad, sample_token
from rlhf_from_scratch.utils.errors import ConfigError


def tiny(**kw) -> GPT:
    torch.manual_seed(0)
    cfg = dict(block_size=32, vocab_size=17, n_layer=2, n_head=2, n_embd=16)
    return GPT(GPTConfig(**{**cfg, **kw})).eval()


def test_changing_a_future_token_leaves_past_logits_unchanged():
    model = tiny()
    x = torch.randint(0, 17, (2, 12))
    y = x.clone()
    y[:, 7] = (y[:, 7] + 1) % 17
    lx, _ = model(x)
    ly, _ = model(y)
    torch.testing.assert_close(lx[:, :7], ly[:, :7])
    assert (lx[:, 7:] - ly[:, 7:]).abs().max() > 1e-4  # the future did change


def test_kv_cache_generation_equals_full_recomputation():
    model = tiny()
    idx = torch.randint(0, 17, (3, 5))
    cached, _ = model.generate(idx, max_new_tokens=12, temperature=0)
    full, _ = model.generate(idx, max_new_tokens=12, temperature=0, use_cache=False)
    assert torch.equal(cached, full)
    # Sampling with the same generator draws the same tokens both ways too.
    a, _ = model.generate(idx, max_new_tokens=12, generator=torch.Generator().manual_seed(3))
    b, _ = model.generate(
        idx, max_new_tokens=12, generator=torch.Generator().manual_seed(3), use_cache=False
    )
    assert torch.equal(a, b)


def test_left_padded_batch_gives_the_same_result_as_each_prompt_alone():
    model = tiny()
    prompts = [[1, 2, 3, 4, 5, 6], [7, 8], [9, 10, 11]]
    idx, mask = left_pad(prompts, pad_id=0)
    batch, batch_mask = model.generate(idx, mask, max_new_tokens=8, temperature=0)
    lp_batch = model.logprobs(batch, batch_mask)
    for i, p in enumerate(prompts):
        alone, _ = model.generate(torch.tensor([p]), max_new_tokens=8, temperature=0)
        assert batch[i, -8:].tolist() == alone[0, -8:].tolist()
        lp_alone = model.logprobs(alone)
        torch.testing.assert_close(lp_batch[i, -8:], lp_alone[0, -8:], atol=1e-5, rtol=1e-5)


def test_generation_stops_after_eos_and_masks_the_rest():
    model = tiny()
    idx = torch.randint(0, 17, (4, 3))
    out, mask = model.generate(idx, max_new_tokens=20, eos_id=5, pad_id=16)
    for row, m in zip(out[:, 3:].tolist(), mask[:, 3:].tolist(), strict=True):
        if 5 in row:
            k = row.index(5)
            assert all(m[: k + 1]) and not any(m[k + 1 :])
            assert all(t == 16 for t in row[k + 1 :])


def test_masked_logprobs_equal_a_manual_computation():
    model = tiny()
    tokens = torch.randint(0, 17, (2, 9))
    mask = torch.ones_like(tokens)
    mask[1, :3] = 0  # left padding
    T = 0.7
    got = model.logprobs(tokens, mask, temperature=T)
    for b in range(2):
        start = 3 if b == 1 else 0
        real = tokens[b : b + 1, start:]
        logits, _ = model(real)
        for t in range(1, real.shape[1]):
            want = F.log_softmax(logits[0, t - 1] / T, -1)[real[0, t]]
            assert math.isclose(got[b, start + t - 1].item(), want.item(), abs_tol=1e-5)
    assert torch.all(got[1, :2] == 0)  # targets that are padding count nothing


def test_top_k_and_top_p_only_sample_allowed_tokens():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0]]).repeat(2000, 1)
    g = torch.Generator().manual_seed(0)
    assert set(sample_token(logits, top_k=2, generator=g).tolist()) <= {0, 1}
    p = F.softmax(logits[0], -1)  # p0 = 0.636, p0 + p1 = 0.87
    got = set(sample_token(logits, top_p=0.8, generator=g).tolist())
    assert got == {0, 1} and p[0] < 0.8 < p[0] + p[1]
    assert sample_token(logits[:1], temperature=0).item() == 0


def test_scalar_heads_are_initialised_as_specified():
    value = tiny(scalar_head="value")
    assert torch.all(value.score(torch.randint(0, 17, (2, 5))) == 0)
    reward = GPT(GPTConfig(vocab_size=17, n_layer=1, n_head=2, n_embd=2048, scalar_head="reward"))
    std = reward.scalar_head.weight.std().item()
    assert abs(std - 1 / math.sqrt(2049)) < 0.1 / math.sqrt(2049)
    with pytest.raises(ConfigError, match="no scalar head"):
        tiny().score(torch.zeros(1, 3, dtype=torch.long))


def test_a_prompt_longer_than_the_context_is_a_config_error():
    model = tiny()
    with pytest.raises(ConfigError, match="context"):
        model.generate(torch.zeros(1, 30, dtype=torch.long), max_new_tokens=5)
    with pytest.raises(ConfigError, match="context"):
        model(torch.zeros(1, 40, dtype=torch.long))


def test_the_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=32)).train()
    x = torch.randint(0, 11, (4, 16))
    y = torch.randint(0, 11, (4, 16))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05  # from log(11) = 2.4: the random targets are memorised
