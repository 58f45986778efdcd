"""The prompts of RLHF, and how a (prompt, response) pair becomes one token sequence.

InstructGPT's three steps all draw prompts from one distribution: the reward model is
trained on responses to some of them, RL on others, and evaluation on held-out ones. Here
they are the instructions of the built-in corpus ("Write a positive review of the pizza
place in two sentences."), with a different seed for each use, or the lines of a file.

A response is scored as the sequence  <eot> "Instruction: ...\\nResponse: " response <eot>:
the end-of-text token is the last token, where the reward model's head is read.
"""

from __future__ import annotations

from pathlib import Path

from rlhf_from_scratch.lm.corpus import PROMPT_FORMAT, format_prompt, generate_demonstrations
from rlhf_from_scratch.lm.sample import encode_prompt
from rlhf_from_scratch.utils.errors import ConfigError, unknown

# One seed per use, so that the three sets of prompts never share a draw.
RM_PROMPT_SEED, RL_PROMPT_SEED, EVAL_PROMPT_SEED = 2_000, 3_000, 4_000


# "all": every instruction of the corpus; "open": those that leave the sentiment open
# ("Write a review of the bakery in two sentences."), where the SFT model writes positive and
# negative reviews alike and a labeler who prefers positive ones has something to teach.
PROMPT_SETS = ("all", "open")


def instruction_prompts(n: int, seed: int, which: str = "all") -> list[str]:
    """n formatted prompts ("Instruction: ...\\nResponse: ") from the corpus's generator."""
    if n < 1:
        raise ConfigError(f"RLHF needs prompts: asked for {n}; use --num-prompts >= 1")
    if which not in PROMPT_SETS:
        raise unknown("prompt set", which, PROMPT_SETS)
    if which == "all":
        return [d.prompt for d in generate_demonstrations(n, seed)]
    demos = generate_demonstrations(6 * n + 50, seed)  # a fifth leave the sentiment open
    return [d.prompt for d in demos if d.sentiment is None][:n]


def read_prompts(path: str | Path) -> list[str]:
    """Formatted prompts from a file of instructions, one per line (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"prompts file '{path}' does not exist")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"prompts file '{path}' holds no prompts; write one instruction a line")
    return [format_prompt(line) for line in lines]


def sequence_ids(tokenizer, prompt: str, response: str) -> list[int]:
    """<eot> prompt response <eot>: what the reward model reads."""
    return encode_prompt(tokenizer, prompt) + tokenizer.encode(response) + [tokenizer.eot_id]


def split_sequence(text: str) -> tuple[str, str]:
    """(prompt, response) of a decoded `prompt response` text: the response starts after the
    last "Response: " of the prompt format (the whole text is the response if there is none)."""
    marker = PROMPT_FORMAT.split("{instruction}")[1]
    at = text.rfind(marker)
    if at < 0:
        return "", text
    return text[: at + len(marker)], text[at + len(marker) :]
