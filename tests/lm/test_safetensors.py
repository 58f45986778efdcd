"""The hand-written safetensors reader/writer and GPT.from_pretrained."""

import json

import pytest
import torch

from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.safetensors import load_file, save_file
from rlhf_from_scratch.utils.errors import ConfigError

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def test_round_trip_keeps_dtypes_shapes_and_values(tmp_path):
    tensors = {
        "a": torch.randn(3, 4),
        "b": torch.randn(5).to(torch.bfloat16),
        "c": torch.arange(6, dtype=torch.int64).reshape(2, 3),
        "d": torch.randn(2, 2).to(torch.float16),
        "e": torch.tensor([True, False]),
    }
    save_file(tensors, tmp_path / "x.safetensors", metadata={"format": "pt"})
    raw = (tmp_path / "x.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    assert header["a"] == {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}
    loaded, meta = load_file(tmp_path / "x.safetensors")
    assert meta == {"format": "pt"}
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v)


def write_hf_gpt2(model: GPT, folder, n_head: int) -> None:
    """Write a model in Hugging Face's GPT-2 layout: Conv1D weights [in, out], attn.bias."""
    tensors = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue
        k = k.removeprefix("transformer.")
        tensors[k] = v.t().contiguous() if k.endswith(CONV1D) else v
    T = model.config.block_size
    for i in range(model.config.n_layer):
        tensors[f"h.{i}.attn.bias"] = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps({"n_head": n_head}))


def test_from_pretrained_loads_a_tiny_checkpoint_in_hf_layout(tmp_path):
    torch.manual_seed(0)
    config = GPTConfig(block_size=24, vocab_size=50, n_layer=2, n_head=4, n_embd=32)
    original = GPT(config).eval()
    with torch.no_grad():  # make every tensor distinctive (biases are zero at init)
        for p in original.parameters():
            p.add_(0.05 * torch.randn_like(p))
    write_hf_gpt2(original, tmp_path, n_head=4)
    loaded = GPT.from_pretrained(tmp_path).eval()
    assert loaded.config == config
    x = torch.randint(0, 50, (2, 20))
    torch.testing.assert_close(loaded(x)[0], original(x)[0])


def test_from_pretrained_refuses_files_that_are_not_gpt2(tmp_path):
    save_file({"foo": torch.zeros(2)}, tmp_path / "model.safetensors")
    with pytest.raises(ConfigError, match="GPT-2"):
        GPT.from_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        GPT.from_pretrained(tmp_path / "nothing.safetensors")


def test_logits_match_transformers_gpt2(tmp_path):
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed: no reference GPT-2 to compare"
    )
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(
        n_positions=32, n_embd=48, n_layer=2, n_head=3, vocab_size=64
    )
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    hf.save_pretrained(tmp_path, safe_serialization=True)
    ours = GPT.from_pretrained(tmp_path).eval()
    x = torch.randint(0, 64, (2, 30))
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], hf(x).logits, atol=1e-4, rtol=1e-4)
