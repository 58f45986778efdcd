"""Gold labelers: the simulated humans of the language-model world.

A human would score a response; here code does, so that every experiment can be checked
against the truth the reward model only estimates (lecture 004: reward hacking and
misgeneralisation show up as a gap between the learned reward and the gold one).

    sentiment(text)                      VADER's compound score, in [-1, 1]
    instruction_following(prompt, text)  the fraction of what the prompt asked for that the
                                         response does: topic, sentiment, number of sentences
    grammaticality(text)                 the fraction of sentences that parse (grammar.py)

A preference between two responses goes through the same simulated teachers as the clip
labelers of the segment-preference world (`preferences/teachers.py`): a text's score is a
sequence of length one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rlhf_from_scratch.lm.grammar import NUMBERS, fluency, sentences
from rlhf_from_scratch.preferences.teachers import Teacher
from rlhf_from_scratch.utils.errors import ConfigError, unknown

SENTIMENT_MARGIN = 0.05  # VADER's own convention: compound >= 0.05 positive, <= -0.05 negative
_INSTRUCTION = re.compile(
    r"Write an? (?:(positive|negative) )?review of (.+?)(?: in (\w+) sentences?)?\."
)


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER compound sentiment of a text, in [-1, 1] (rule-based, no download)."""
    return float(_vader().polarity_scores(text)["compound"])


def grammaticality(text: str) -> float:
    """The fraction of the text's sentences that parse in the corpus grammar."""
    return fluency(text)


def parse_instruction(prompt: str) -> dict | None:
    """{'topic', 'sentiment', 'n_sentences'} asked for by a prompt, or None if it asks nothing."""
    match = _INSTRUCTION.search(prompt)
    if match is None:
        return None
    polarity, topic, count = match.groups()
    n = NUMBERS.index(count) + 1 if count in NUMBERS else None
    return {"topic": topic, "sentiment": polarity, "n_sentences": n}


def instruction_following(prompt: str, response: str) -> float:
    """Mean over the asked constraints of [constraint met], in [0, 1].

    topic: the response names the topic; sentiment: VADER's compound is >= +0.05 (positive)
    or <= -0.05 (negative); length: the response has exactly n sentences.
    """
    asked = parse_instruction(prompt)
    if asked is None:
        return float("nan")
    checks = [asked["topic"].lower() in response.lower()]
    if asked["sentiment"] is not None:
        s = sentiment(response)
        checks.append(
            s >= SENTIMENT_MARGIN if asked["sentiment"] == "positive" else s <= -SENTIMENT_MARGIN
        )
    if asked["n_sentences"] is not None:
        checks.append(len(sentences(response)) == asked["n_sentences"])
    return sum(checks) / len(checks)


GOLD_SCORES = ("sentiment", "instruction", "grammar")


def check_gold_name(name: str | None) -> None:
    """--gold must name a gold score (None: the reward model's own labeler)."""
    if name is not None and name not in GOLD_SCORES:
        raise ConfigError(f"--gold must be one of {GOLD_SCORES}, got {name!r}")


def score(kind: str, prompt: str, response: str) -> float:
    """The gold score of one kind for a response to a prompt."""
    if kind == "sentiment":
        return sentiment(response)
    if kind == "instruction":
        return instruction_following(prompt, response)
    if kind == "grammar":
        return grammaticality(response)
    raise unknown("gold score", kind, GOLD_SCORES)


def all_scores(prompt: str, response: str) -> dict[str, float]:
    return {kind: score(kind, prompt, response) for kind in GOLD_SCORES}


def preference(
    teacher: Teacher, kind: str, prompt: str, response_1: str, response_2: str
) -> float | None:
    """The teacher's label mu for (response_1, response_2): 1.0 first better, 0.0 second,
    0.5 equal, None skipped; each response's gold score is a length-1 reward sequence."""
    r1 = score(kind, prompt, response_1)
    r2 = score(kind, prompt, response_2)
    return teacher.label([r1], [r2])


def win_rate(scores: list[float], baseline: list[float]) -> float:
    """The fraction of prompts where a response beats the baseline's response to the same
    prompt by the gold score, a tie counting half: the "simulated win rate" of lecture 003's
    controlled comparison (Dubois et al. 2023), with the gold labeler as the judge."""
    if len(scores) != len(baseline) or not scores:
        raise ValueError(f"need paired scores, got {len(scores)} and {len(baseline)}")
    wins = sum((s > b) + 0.5 * (s == b) for s, b in zip(scores, baseline, strict=True))
    return wins / len(scores)
