"""Tokenizers: text <-> token ids, with the special tokens end-of-text and padding.

    char   one token per printable ASCII character (+ newline, tab): 98 tokens, no files
    byte   one token per UTF-8 byte: 258 tokens, any text at all, no files
    gpt2   GPT-2's byte-pair encoding through `tiktoken`, only when tiktoken is installed and
           its vocabulary files are already on disk (this project never downloads)

A checkpoint stores its tokenizer's `identity()`; a model is never paired with a tokenizer
that has a different one (the ids would mean other strings).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from rlhf_from_scratch.utils.errors import ConfigError, unknown

TOKENIZERS = ("char", "byte", "gpt2")
CHAR_ALPHABET = "\n\t" + "".join(chr(c) for c in range(32, 127))  # printable ASCII
EOT = "<|endoftext|>"
PAD = "<|pad|>"


class Tokenizer:
    """Character- or byte-level tokenizer; the specials come after the ordinary tokens."""

    def __init__(self, kind: str = "char", alphabet: str = CHAR_ALPHABET) -> None:
        if kind not in ("char", "byte"):
            raise unknown("tokenizer", kind, TOKENIZERS)
        self.kind = kind
        self.alphabet = alphabet if kind == "char" else ""
        self._index = {c: i for i, c in enumerate(self.alphabet)}
        n = len(self.alphabet) if kind == "char" else 256
        self.eot_id, self.pad_id = n, n + 1
        self.vocab_size = n + 2

    def encode(self, text: str) -> list[int]:
        if self.kind == "byte":
            return list(text.encode("utf-8"))
        try:
            return [self._index[c] for c in text]
        except KeyError as error:
            raise ConfigError(
                f"character {error.args[0]!r} is not in the char tokenizer's alphabet "
                "(printable ASCII); use --tokenizer byte for any text"
            ) from None

    def decode(self, ids: list[int]) -> str:
        specials = {self.eot_id: EOT, self.pad_id: ""}
        if self.kind == "byte":
            out, run = [], bytearray()
            for i in ids:
                if i in specials:
                    out.append(run.decode("utf-8", errors="replace") + specials[i])
                    run = bytearray()
                else:
                    run.append(i)
            return "".join(out) + run.decode("utf-8", errors="replace")
        return "".join(specials.get(i) if i in specials else self.alphabet[i] for i in ids)

    def identity(self) -> dict:
        """What a checkpoint must match: the kind and the full vocabulary."""
        return {"kind": self.kind, "vocab": self.alphabet, "vocab_size": self.vocab_size}


class GPT2Tokenizer:
    """GPT-2's BPE through tiktoken (50257 tokens; end-of-text 50256 doubles as padding)."""

    URLS = (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
    )

    def __init__(self) -> None:
        try:
            import tiktoken
        except ImportError:
            raise ConfigError(
                "--tokenizer gpt2 needs the tiktoken package (pip install tiktoken) and its "
                "GPT-2 vocabulary files on disk; or use --tokenizer char / byte"
            ) from None
        cache = Path(  # the folders tiktoken itself reads, in its order
            os.environ.get("TIKTOKEN_CACHE_DIR")
            or os.environ.get("DATA_GYM_CACHE_DIR")
            or Path(tempfile.gettempdir()) / "data-gym-cache"
        )
        files = [cache / hashlib.sha1(url.encode()).hexdigest() for url in self.URLS]
        if not all(f.exists() for f in files):
            raise ConfigError(
                f"tiktoken's GPT-2 vocabulary is not on disk (looked in '{cache}', set "
                "TIKTOKEN_CACHE_DIR to the folder that holds it); this project never downloads"
            )
        self._enc = tiktoken.get_encoding("gpt2")
        self.kind = "gpt2"
        self.eot_id = self.pad_id = self._enc.eot_token
        self.vocab_size = self._enc.n_vocab

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def decode(self, ids: list[int]) -> str:
        return self._enc.decode(list(ids))

    def identity(self) -> dict:
        return {"kind": "gpt2", "vocab": "gpt2", "vocab_size": self.vocab_size}


def get_tokenizer(name: str) -> Tokenizer | GPT2Tokenizer:
    """The tokenizer called `name` (char, byte or gpt2)."""
    if name == "gpt2":
        return GPT2Tokenizer()
    if name not in TOKENIZERS:
        raise unknown("tokenizer", name, TOKENIZERS)
    return Tokenizer(name)


def from_identity(identity: dict) -> Tokenizer | GPT2Tokenizer:
    """Rebuild the tokenizer a checkpoint was trained with."""
    if identity["kind"] == "char":
        return Tokenizer("char", identity["vocab"])
    return get_tokenizer(identity["kind"])


def check_same(saved: dict, current: dict, where: str) -> None:
    """ConfigError unless two tokenizer identities are the same."""
    if saved != current:
        raise ConfigError(
            f"{where} was made with the '{saved['kind']}' tokenizer (vocab size "
            f"{saved['vocab_size']}), not the '{current['kind']}' one (vocab size "
            f"{current['vocab_size']}); use the same --tokenizer as the checkpoint"
        )
