"""lm/prompts.py: the prompt sets, a prompts file, and the sequence the reward model reads."""

import pytest

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.prompts import instruction_prompts, read_prompts, sequence_ids
from rlhf_from_scratch.lm.tokenizer import Tokenizer
from rlhf_from_scratch.utils.errors import ConfigError


def test_open_prompts_leave_the_sentiment_open():
    prompts = instruction_prompts(50, 7, "open")
    assert len(prompts) == 50
    asked = [gold.parse_instruction(p) for p in prompts]
    assert all(a is not None and a["sentiment"] is None for a in asked)
    everything = [gold.parse_instruction(p) for p in instruction_prompts(200, 7, "all")]
    assert {a["sentiment"] for a in everything} == {"positive", "negative", None}


def test_bad_prompt_sets_and_files():
    with pytest.raises(ConfigError, match="did you mean 'open'"):
        instruction_prompts(5, 0, "opne")
    with pytest.raises(ConfigError, match="needs prompts"):
        instruction_prompts(0, 0)


def test_prompts_file_is_formatted(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("Write a review of the bakery.\n\n")
    assert read_prompts(path) == ["Instruction: Write a review of the bakery.\nResponse: "]
    with pytest.raises(ConfigError, match="does not exist"):
        read_prompts(tmp_path / "missing.txt")


def test_the_reward_model_reads_eot_prompt_response_eot():
    tok = Tokenizer("char")
    ids = sequence_ids(tok, "Hi", "ok")
    assert ids[0] == ids[-1] == tok.eot_id and tok.decode(ids[1:-1]) == "Hiok"
