"""A GPT written from scratch, in the spirit of nanoGPT's model.py.

The language model is the policy of RLHF (lecture 004: "LM as policy, action space = the
vocabulary"): the state is the prompt plus the tokens written so far, an action is the next
token, and pi_theta(y_t | x, y_<t) = softmax(logits / temperature)[y_t].

    GPT(x) = lm_head( ln_f( Block_L( ... Block_1( wte[x] + wpe[positions] ) ) ) )
    Block(h) = h' + MLP(ln_2(h')),   h' = h + CausalSelfAttention(ln_1(h))

The same network with its last layer replaced by a scalar head is the reward model
(lecture 001: "replacing the final layer ... with a randomly initialized regression head")
and, with a zero-initialised head, the value function of PPO.

Module names follow GPT-2 (`transformer.h.0.attn.c_attn`, ...) so that `from_pretrained` can
load OpenAI's weights from Hugging Face's model.safetensors.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from rlhf_from_scratch.utils.errors import ConfigError

KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # one (keys, values) per layer, [B, nh, S, hs]


@dataclass
class GPTConfig:
    block_size: int = 256  # the context: the most tokens the model ever sees at once
    vocab_size: int = 98
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    scalar_head: str | None = None  # None, "reward" (N(0, 1/sqrt(d+1)) init) or "value" (zero)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.dropout = config.dropout

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if past is not None:  # the KV cache: keys and values of earlier tokens are not recomputed
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        dropout = self.dropout if self.training else 0.0
        if mask is None:  # plain causal attention (the fast path used in training)
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        else:  # mask [B, 1, T, S]: True where query t may look at key s
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, mask=None, past=None):
        a, present = self.attn(self.ln_1(x), mask, past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied embeddings (as in GPT-2)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2L)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        self.scalar_head = None
        if config.scalar_head is not None:
            self.scalar_head = nn.Linear(config.n_embd, 1)
            if config.scalar_head == "reward":  # Stiennon et al.: N(0, 1/sqrt(d_model + 1))
                nn.init.normal_(self.scalar_head.weight, std=1 / math.sqrt(config.n_embd + 1))
            elif config.scalar_head == "value":  # V starts at 0: no advantage is invented at step 0
                nn.init.zeros_(self.scalar_head.weight)
            else:
                raise ConfigError(
                    f"scalar_head must be 'reward' or 'value', got {config.scalar_head!r}"
                )
            nn.init.zeros_(self.scalar_head.bias)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    # ---- the forward pass ----------------------------------------------------------------
    def hidden(
        self,
        idx: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        past: KVCache | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Final hidden states [B, T, d] of tokens idx [B, T], and the new KV cache.

        attention_mask [B, S] (S = cached + new tokens) is 1 for real tokens and 0 for padding.
        Positions count real tokens only, so a left-padded prompt gets the positions 0, 1, ...
        it would have alone, and padding is never attended to.
        """
        B, T = idx.shape
        past_len = 0 if past is None else past[0][0].shape[2]
        S = past_len + T
        if S > self.config.block_size:
            raise ConfigError(
                f"a sequence of {S} tokens is longer than the model's context "
                f"(block_size={self.config.block_size}); shorten the prompt or --max-new-tokens"
            )
        if attention_mask is None and past is None:
            pos = torch.arange(T, device=idx.device)[None]
            mask = None
        else:
            if attention_mask is None:
                attention_mask = torch.ones(B, S, dtype=torch.long, device=idx.device)
            pos = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, past_len:]
            key = torch.arange(S, device=idx.device)[None, :]
            query = torch.arange(T, device=idx.device)[:, None] + past_len
            mask = (key <= query)[None] & attention_mask.bool()[:, None, :]  # causal and real
            mask = mask | (key == query)[None]  # a padding query sees itself: softmax stays finite
            mask = mask[:, None]  # [B, 1, T, S], broadcast over heads
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        present = []
        for i, block in enumerate(self.transformer.h):
            x, kv = block(x, mask, None if past is None else past[i])
            present.append(kv)
        return self.transformer.ln_f(x), present

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits [B, T, V]; with targets, also the mean cross-entropy (targets -100 ignored)."""
        h, _ = self.hidden(idx, attention_mask)
        logits = self.lm_head(h)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.float().view(-1, logits.size(-1)), targets.view(-1), ignore_index=-100
            )
        return logits, loss

    def logprobs(
        self,
        tokens: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """log pi(x_t | x_<t) for t = 1..T-1, shape [B, T-1]; 0 where x_t is padding.

        pi = softmax(logits / temperature): PPO on a language model must score tokens with the
        same temperature it sampled them with, or the ratio pi/pi_old is off from step 0.
        """
        logits, _ = self(tokens, attention_mask=attention_mask)
        logp = F.log_softmax(logits[:, :-1].float() / temperature, dim=-1)
        logp = logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)
        if attention_mask is not None:
            logp = logp * attention_mask[:, 1:].to(logp.dtype)
        return logp

    def score(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The scalar head at every position, [B, T] (reward model or value function)."""
        if self.scalar_head is None:
            raise ConfigError("this model has no scalar head (GPTConfig.scalar_head is None)")
        h, _ = self.hidden(idx, attention_mask)
        return self.scalar_head(h).squeeze(-1).float()

    # ---- sampling ------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        max_new_tokens: int = 64,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        eos_id: int | None = None,
        pad_id: int = 0,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample continuations of a batch of left-padded prompts idx [B, P].

        Returns (tokens [B, P + N], attention_mask [B, P + N]). After a row writes eos_id, the
        rest of it is pad_id with mask 0. use_cache=False recomputes the whole prefix every
        step (the slow reference the KV cache must agree with).
        """
        B, P = idx.shape
        if P + max_new_tokens > self.config.block_size:
            raise ConfigError(
                f"a prompt of {P} tokens plus {max_new_tokens} new tokens does not fit the "
                f"context of {self.config.block_size} tokens; use a shorter prompt or at most "
                f"--max-new-tokens {max(self.config.block_size - P, 0)}"
            )
        mask = torch.ones_like(idx) if attention_mask is None else attention_mask.long()
        done = torch.zeros(B, dtype=torch.bool, device=idx.device)  # rows that wrote eos_id
        tokens, past, step_input = idx, None, idx
        for _ in range(max_new_tokens):
            if use_cache:
                h, past = self.hidden(step_input, mask, past)
            else:
                h, _ = self.hidden(tokens, mask)
            next_token = sample_token(self.lm_head(h[:, -1]), temperature, top_k, top_p, generator)
            next_token = torch.where(done, torch.full_like(next_token, pad_id), next_token)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)
            mask = torch.cat([mask, (~done).long()[:, None]], dim=1)
            if eos_id is not None:
                done = done | (next_token == eos_id)
            step_input = next_token[:, None]
            if done.all():
                break
        return tokens, mask

    # ---- GPT-2 weights -------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path) -> GPT:
        """Load GPT-2 weights from Hugging Face's model.safetensors (a file, or its folder).

        HF's GPT-2 uses Conv1D layers whose weights are stored [in, out]: transposed here into
        nn.Linear's [out, in]. n_head is read from config.json beside the weights when there
        is one, else n_embd // 64 (every GPT-2 size has 64-dimensional heads).
        """
        from rlhf_from_scratch.lm.safetensors import load_file

        path = Path(path)
        file = path / "model.safetensors" if path.is_dir() else path
        tensors, _ = load_file(file)
        sd = {k.removeprefix("transformer."): v for k, v in tensors.items()}
        sd = {k: v for k, v in sd.items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}
        if "wte.weight" not in sd or "wpe.weight" not in sd:
            raise ConfigError(f"'{file}' does not hold GPT-2 weights (no wte/wpe tensors)")
        vocab_size, n_embd = sd["wte.weight"].shape
        n_layer = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("h."))
        n_head = n_embd // 64
        if (file.parent / "config.json").exists():
            n_head = json.loads((file.parent / "config.json").read_text()).get("n_head", n_head)
        config = GPTConfig(
            block_size=sd["wpe.weight"].shape[0],
            vocab_size=vocab_size,
            n_layer=n_layer,
            n_head=n_head,
            n_embd=n_embd,
        )
        model = cls(config)
        ours = model.state_dict()
        conv1d = (
            "attn.c_attn.weight",
            "attn.c_proj.weight",
            "mlp.c_fc.weight",
            "mlp.c_proj.weight",
        )
        loaded = {"lm_head.weight"}  # tied to wte
        for k, v in sd.items():
            if k == "lm_head.weight":
                continue
            key = "transformer." + k
            if key not in ours:
                raise ConfigError(f"'{file}': unexpected tensor '{k}' for a GPT-2 model")
            v = v.t() if k.endswith(conv1d) else v
            if v.shape != ours[key].shape:
                raise ConfigError(
                    f"'{file}': '{k}' has shape {tuple(v.shape)}, expected {tuple(ours[key].shape)}"
                )
            with torch.no_grad():
                ours[key].copy_(v.float())
            loaded.add(key)
        missing = sorted(set(ours) - loaded)
        if missing:
            raise ConfigError(f"'{file}' lacks tensors {missing[:4]} of a GPT-2 model")
        return model


def sample_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token per row from softmax(logits / temperature), cut to the top-k tokens and to the
    smallest set whose probability reaches top_p (nucleus sampling). temperature 0 = greedy."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = F.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs >= top_p  # the mass before this token already reaches p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token lists into (idx [B, P], attention_mask [B, P]) for `generate`."""
    P = max(len(s) for s in sequences)
    idx = torch.full((len(sequences), P), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), P), dtype=torch.long)
    for i, s in enumerate(sequences):
        if s:
            idx[i, P - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, P - len(s) :] = 1
    return idx, mask
