"""The built-in corpus: short reviews and instruction/response pairs, generated offline.

Every text is sampled from the grammar of `grammar.py` with a seeded random generator, so the
same seed gives the same corpus and nothing is downloaded. Two kinds of documents:

  reviews         "We went to the pizza place last week. The food was really great. I would
                   happily recommend the pizza place to my neighbors."   (pretraining text)
  demonstrations  "Write a positive review of the pizza place in two sentences."
                   -> "The pizza place was lovely. The prices were very good."   (SFT data)

A review is positive, negative (0.45 each) or mixed (0.1); a demonstration obeys the topic, the
sentiment and the number of sentences it is asked for, as the gold labeler checks.

The entropy rate. Each random choice c_i of the generator is made with a known probability
p(c_i), so a document d carries -log p(d | its choices) = sum_i -log p(c_i) nats. Divided by
the number of tokens the model must predict (the text plus one end-of-text token),

    H_rate = sum_d sum_i -log p(c_i)  /  sum_d (len(tokens(d)) + 1)      [nats / token]

is the loss a perfect model of the corpus would reach. It is an upper bound: a text that
two different choice sequences can produce (a mixed review whose sentences all happen to
share one polarity reads like a positive one) is more likely than either sequence alone.
The slack is below log(1 + 0.1/0.45) nats per document, a few 1e-4 nats per character.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

from rlhf_from_scratch.lm.grammar import (
    CATEGORIES,
    CONTRAST_TEMPLATE,
    INSTRUCTION_TEMPLATE,
    NEUTRAL,
    NUMBERS,
    POLAR,
    POLAR_TEMPLATES,
    TOPIC_TEMPLATES,
    WEIGHTS,
)
from rlhf_from_scratch.utils.errors import ConfigError

SENTIMENT_MODES = {"positive": 0.45, "negative": 0.45, "mixed": 0.10}
PROMPT_FORMAT = "Instruction: {instruction}\nResponse: "


@dataclass
class Review:
    text: str
    nll: float  # sum of -log p of the generator's choices, in nats
    topic: str
    sentiment: str  # positive, negative or mixed


@dataclass
class Demonstration:
    instruction: str  # "Write a positive review of the pizza place in two sentences."
    response: str
    topic: str
    sentiment: str | None  # asked for: positive, negative, or None (either)
    n_sentences: int | None  # asked for, or None (any number)

    @property
    def prompt(self) -> str:
        return format_prompt(self.instruction)


def format_prompt(instruction: str) -> str:
    """The text an SFT model is given: the instruction, then "Response: "."""
    return PROMPT_FORMAT.format(instruction=instruction)


class _Sampler:
    """Random choices that remember their total negative log-probability."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.nll = 0.0

    def choice(self, options: list, weights: list[float] | None = None):
        if weights is None:
            i = self.rng.randrange(len(options))
            self.nll += math.log(len(options))
            return options[i]
        total = sum(weights)
        u, acc = self.rng.random() * total, 0.0
        for option, w in zip(options, weights, strict=True):
            acc += w
            if u < acc:
                self.nll -= math.log(w / total)
                return option
        self.nll -= math.log(weights[-1] / total)
        return options[-1]

    def fill(self, template: str, category: str, topic: str, polarity: str) -> str:
        """Fill each {slot} of a template; polar slots take words of the given polarity."""
        cat = CATEGORIES[category]
        other = "-" if polarity == "+" else "+"

        def word(match: re.Match) -> str:
            slot = match.group(1)
            if slot == "topic":
                return topic
            if slot == "Topic":
                return topic[0].upper() + topic[1:]
            if slot in ("aspect_s", "aspect_p", "experience"):
                key = slot.replace("aspect_", "aspects_")
                return self.choice(cat[key])
            if slot == "aspect":
                return self.choice(cat["aspects_s"] + cat["aspects_p"])
            if slot == "adj2":
                return self.choice(POLAR["adj"][other])
            if slot in POLAR:
                return self.choice(POLAR[slot][polarity])
            return self.choice(NEUTRAL[slot], WEIGHTS.get(slot))

        return re.sub(r"\{(\w+)\}", word, template)

    def polar_sentences(self, n: int, category: str, topic: str, mode: str) -> list[str]:
        """n sentences with sentiment: the first names the topic, the others are free."""
        out = []
        for i in range(n):
            polarity = {"positive": "+", "negative": "-"}.get(mode) or self.choice(["+", "-"])
            if mode == "mixed" and i > 0 and self.choice([True, False], [1, 3]):
                template = CONTRAST_TEMPLATE
            else:
                template = self.choice(TOPIC_TEMPLATES if i == 0 else POLAR_TEMPLATES)
            out.append(self.fill(template, category, topic, polarity))
        return out


def _pick_topic(s: _Sampler) -> tuple[str, str]:
    category = s.choice(sorted(CATEGORIES))
    return category, s.choice(CATEGORIES[category]["topics"])


def generate_reviews(n: int, seed: int = 0) -> list[Review]:
    """n reviews (an optional neutral intro, then 1-4 sentences with sentiment)."""
    s = _Sampler(random.Random(seed))
    reviews = []
    for _ in range(n):
        s.nll = 0.0
        category, topic = _pick_topic(s)
        mode = s.choice(list(SENTIMENT_MODES), list(SENTIMENT_MODES.values()))
        parts = []
        if s.choice([True, False]):
            parts.append(s.fill(s.choice(CATEGORIES[category]["intros"]), category, topic, "+"))
        parts += s.polar_sentences(s.choice([1, 2, 3, 4]), category, topic, mode)
        reviews.append(Review(" ".join(parts), s.nll, topic, mode))
    return reviews


def instruction(topic: str, sentiment: str | None, n_sentences: int | None) -> str:
    """'Write a positive review of the pizza place in two sentences.' (both parts optional)."""
    a_sentiment = f"a {sentiment} " if sentiment else "a "
    length = ""
    if n_sentences is not None:
        length = f" in {NUMBERS[n_sentences - 1]} sentence{'s' if n_sentences > 1 else ''}"
    return INSTRUCTION_TEMPLATE.format(a_sentiment=a_sentiment, topic=topic, length=length)


def generate_demonstrations(n: int, seed: int = 0) -> list[Demonstration]:
    """n instruction/response pairs whose responses obey topic, sentiment and length."""
    s = _Sampler(random.Random(seed))
    demos = []
    for _ in range(n):
        category, topic = _pick_topic(s)
        sentiment = s.choice(["positive", "negative", None], [0.4, 0.4, 0.2])
        n_sentences = s.choice([1, 2, 3, 4, None], [0.2, 0.2, 0.2, 0.2, 0.2])
        mode = sentiment or s.choice(["positive", "negative"])
        k = n_sentences or s.choice([1, 2, 3, 4])
        response = " ".join(s.polar_sentences(k, category, topic, mode))
        demos.append(
            Demonstration(
                instruction(topic, sentiment, n_sentences), response, topic, sentiment, n_sentences
            )
        )
    return demos


def entropy_rate(reviews: list[Review], encode) -> float:
    """H_rate in nats per token of `encode` (the text plus one end-of-text token per review)."""
    nll = sum(r.nll for r in reviews)
    tokens = sum(len(encode(r.text)) + 1 for r in reviews)
    return nll / tokens


def read_text_corpus(path: str | Path) -> str:
    """The text of a --corpus file (a clear error when it is missing or empty)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"corpus file '{path}' does not exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise ConfigError(f"corpus file '{path}' is empty; give a plain-text file with some text")
    return text
