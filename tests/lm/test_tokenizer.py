"""Tokenizers: round trips, special tokens, and the errors a student meets."""

import pytest

from rlhf_from_scratch.lm.tokenizer import Tokenizer, check_same, get_tokenizer
from rlhf_from_scratch.utils.errors import ConfigError


@pytest.mark.parametrize("kind", ["char", "byte"])
def test_round_trip(kind):
    tok = get_tokenizer(kind)
    text = "The food was great.\nI would recommend it to my friends! (5/5)"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert max(ids) < tok.eot_id < tok.pad_id == tok.vocab_size - 1
    assert tok.decode(ids + [tok.eot_id] + ids) == text + "<|endoftext|>" + text
    assert tok.decode(ids + [tok.pad_id, tok.pad_id]) == text


def test_byte_tokenizer_takes_any_text_and_char_tokenizer_says_what_to_do():
    text = "Café — naïve ☕"
    assert get_tokenizer("byte").decode(get_tokenizer("byte").encode(text)) == text
    with pytest.raises(ConfigError, match="--tokenizer byte"):
        get_tokenizer("char").encode(text)


def test_unknown_tokenizer_suggests_a_close_name():
    with pytest.raises(ConfigError, match="did you mean 'char'"):
        get_tokenizer("chr")


def test_gpt2_tokenizer_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache
    with pytest.raises(ConfigError, match="tiktoken"):
        get_tokenizer("gpt2")


def test_identities_of_different_tokenizers_are_refused():
    check_same(Tokenizer("char").identity(), Tokenizer("char").identity(), "x")
    with pytest.raises(ConfigError, match="'byte' tokenizer"):
        check_same(Tokenizer("byte").identity(), Tokenizer("char").identity(), "the checkpoint")
    with pytest.raises(ConfigError):  # same kind, another alphabet
        check_same(Tokenizer("char", "abc").identity(), Tokenizer("char").identity(), "x")
