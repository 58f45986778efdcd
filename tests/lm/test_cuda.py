"""The LM world on a CUDA GPU: skipped on machines without one (CI here), run on the GPU
machine (benchmarks/lm_cuda/ holds its output). The same checks as on the CPU, plus what
only a GPU can get wrong: bf16 autocast against fp32, generators and checkpoints that cross
devices, and every stage of `rlhf demo` with `--device cuda`."""

import json

import pytest
import torch
from rlhf_helpers import TOK, count_a, tiny_policy

from rlhf_from_scratch.cli import main
from rlhf_from_scratch.lm.checkpoint import load_model
from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.policy import autocast_for, response_logprobs
from rlhf_from_scratch.lm.rlhf import algo_config
from rlhf_from_scratch.lm.rollout import rollout

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def test_kv_cache_generation_equals_full_recomputation_on_cuda():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=64, vocab_size=TOK.vocab_size, n_layer=2, n_head=2,
                          n_embd=32)).to(CUDA).eval()  # fmt: skip
    idx = torch.randint(1, TOK.vocab_size, (3, 5), device=CUDA)
    outs = []
    for use_cache in (True, False):
        generator = torch.Generator(device=CUDA).manual_seed(0)
        tokens, _ = model.generate(idx, max_new_tokens=20, generator=generator,
                                   use_cache=use_cache)  # fmt: skip
        outs.append(tokens)
    assert torch.equal(outs[0], outs[1])


def test_bf16_autocast_log_probs_stay_close_to_fp32():
    policy, _ = tiny_policy()
    policy.to(CUDA)
    tokens = torch.randint(1, TOK.vocab_size, (4, 24), device=CUDA)
    obs = {"tokens": tokens, "attention_mask": torch.ones_like(tokens)}
    actions = tokens[:, 8:]
    with torch.autocast("cuda", enabled=False):
        exact = response_logprobs(policy.actor, obs, actions, 1.0)
    with autocast_for(CUDA):
        fast = response_logprobs(policy.actor, obs, actions, 1.0)
    assert fast.dtype == torch.float32  # log-probs leave autocast in fp32
    assert (fast - exact).abs().max() < 0.05, (fast - exact).abs().max()


@pytest.mark.parametrize("name", ["ppo", "reinforce", "a2c", "trpo"])
def test_each_algorithm_updates_the_lm_on_cuda(name):
    policy, reference = tiny_policy(second_order=name == "trpo")
    policy.to(CUDA)
    reference.to(CUDA)
    algo_class, cfg = algo_config(name, None)
    algo = algo_class(policy, cfg, 3)
    before = [p.detach().clone() for p in policy.policy_parameters()]
    generator = torch.Generator(device=CUDA).manual_seed(0)
    for _ in range(2):
        ro = rollout(policy, reference, count_a, TOK, ["ab", "ba"], 2, 0.1, algo.estimate, 8,
                     None, generator)  # fmt: skip
        assert ro.batch.advantages.device.type == "cuda"
        stats = algo.update(ro.batch, torch.Generator().manual_seed(1))
        assert all(torch.isfinite(torch.tensor(v)) for v in stats.values()), stats
    moved = sum(
        float((p.detach() - b).abs().sum()) for p, b in zip(policy.policy_parameters(), before)
    )
    assert moved > 0


def test_demo_runs_every_stage_on_cuda_and_its_checkpoints_load_on_cpu(tmp_path, capsys):
    run = tmp_path / "demo"
    main(["demo", "--size", "smoke", "--run-dir", str(run), "--device", "cuda",
          "--no-progress"])  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["stage_times_s"]) == {"pretrain", "sft", "reward_model", "rlhf"}
    for stage in ("pretrain", "sft", "rm", "rlhf"):
        config = json.loads((run / stage / "config.json").read_text())
        assert config["device"] == "cuda"
    model, tokenizer, _ = load_model(run / "rlhf")  # saved from CUDA, loaded on the CPU
    assert next(model.parameters()).device.type == "cpu"
    assert "gold reward" in capsys.readouterr().out
