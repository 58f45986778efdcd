"""The grammar of the built-in corpus, and a checker that says whether a text belongs to it.

The language is small and regular: a text is a sequence of sentences separated by one space,
and every sentence is one of the templates below with each {slot} filled by one entry of its
word list. `corpus.py` samples from this grammar; this file recognises it:

    is_grammatical(text)  every sentence parses (and they are joined by single spaces)
    fluency(text)         the fraction of sentences that parse, in [0, 1]

Fluency is the measure of "still writes English" in the reward-hacking plots: a policy that
games its reward model with word salad loses fluency (lecture 001: reward hacking and the KL
penalty that prevents it).
"""

from __future__ import annotations

import re
from functools import lru_cache

# ---- the lexicon ---------------------------------------------------------------------------
CATEGORIES: dict[str, dict[str, list[str]]] = {
    "restaurant": {
        "topics": [
            "the pizza place",
            "the sushi bar",
            "the noodle shop",
            "the corner cafe",
            "the bakery",
            "the burger joint",
        ],
        "aspects_s": ["food", "service", "menu", "coffee", "dessert", "music", "waiter"],
        "aspects_p": ["prices", "portions", "drinks", "waiters"],
        "experience": ["meal", "dinner", "lunch", "visit"],
        "intros": [
            "We went to {topic} {when}.",
            "We had dinner at {topic} {when}.",
            "I had lunch at {topic} {when}.",
        ],
    },
    "hotel": {
        "topics": ["the hotel by the sea", "the old inn", "the mountain lodge", "the city hotel"],
        "aspects_s": ["room", "bed", "view", "breakfast", "pool", "location", "garden"],
        "aspects_p": ["staff", "rooms", "towels", "beds"],
        "experience": ["stay", "trip", "weekend", "vacation"],
        "intros": ["We stayed at {topic} {when}.", "I booked a room at {topic} {when}."],
    },
    "phone": {
        "topics": ["the new phone", "the cheap phone", "the flip phone", "the smartwatch"],
        "aspects_s": ["battery", "screen", "camera", "speaker", "design", "charger"],
        "aspects_p": ["buttons", "apps", "colors", "updates"],
        "experience": ["purchase", "gadget", "device", "buy"],
        "intros": ["I bought {topic} {when}.", "I got {topic} in the mail {when}."],
    },
    "book": {
        "topics": ["the mystery book", "the cookbook", "the history book", "the poetry book"],
        "aspects_s": ["plot", "ending", "writing", "cover", "story", "first chapter"],
        "aspects_p": ["characters", "chapters", "pictures", "recipes"],
        "experience": ["read", "book", "story", "choice"],
        "intros": ["I read {topic} {when}.", "I finished {topic} {when}."],
    },
    "movie": {
        "topics": ["the new movie", "the old western", "the cartoon", "the space film"],
        "aspects_s": ["acting", "story", "soundtrack", "ending", "script", "narrator"],
        "aspects_p": ["actors", "scenes", "effects", "songs"],
        "experience": ["film", "movie", "evening", "show"],
        "intros": ["I watched {topic} {when}.", "We saw {topic} at the cinema {when}."],
    },
}

# Words whose sentiment VADER (the gold labeler) knows; "+" and "-" are the two polarities.
POLAR: dict[str, dict[str, list[str]]] = {
    "adj": {
        "+": [
            "great",
            "excellent",
            "wonderful",
            "lovely",
            "fantastic",
            "amazing",
            "pleasant",
            "perfect",
            "good",
            "nice",
            "superb",
            "delightful",
        ],
        "-": [
            "terrible",
            "awful",
            "horrible",
            "bad",
            "disappointing",
            "dreadful",
            "poor",
            "sad",
            "boring",
            "ugly",
            "unpleasant",
            "annoying",
        ],
    },
    "a_adj": {
        "+": [
            "a great",
            "an excellent",
            "a wonderful",
            "a lovely",
            "a fantastic",
            "an amazing",
            "a pleasant",
            "a perfect",
        ],
        "-": [
            "a terrible",
            "an awful",
            "a horrible",
            "a bad",
            "a disappointing",
            "a dreadful",
            "a poor",
            "a sad",
        ],
    },
    "verb": {
        "+": ["loved", "liked", "enjoyed", "adored"],
        "-": ["hated", "disliked", "did not like", "did not enjoy"],
    },
    "rec": {
        "+": ["recommend", "happily recommend", "gladly recommend", "definitely recommend"],
        "-": ["never recommend", "not recommend"],
    },
}

NEUTRAL: dict[str, list[str]] = {
    "adv": ["", "really ", "very ", "extremely ", "quite ", "so "],
    "people": ["anyone", "my neighbors", "my family", "everyone", "my parents"],
    "when": [
        "last week",
        "last night",
        "yesterday",
        "on Friday",
        "on Sunday",
        "last month",
        "this morning",
        "a year ago",
    ],
}

# Choice weights where not uniform: most adjectives come without an adverb.
WEIGHTS: dict[str, list[float]] = {"adv": [3, 1, 1, 1, 1, 1]}

# A sentence that carries sentiment; `adj2` has the opposite polarity of `adj`.
TOPIC_TEMPLATES = [
    "{Topic} was {adv}{adj}.",
    "I {verb} {topic}.",
    "I would {rec} {topic} to {people}.",
]
POLAR_TEMPLATES = TOPIC_TEMPLATES + [
    "The {aspect_s} was {adv}{adj}.",
    "The {aspect_p} were {adv}{adj}.",
    "I {verb} the {aspect}.",
    "It was {a_adj} {experience}.",
]
CONTRAST_TEMPLATE = "The {aspect_s} was {adj}, but the {aspect_s} was {adj2}."
INSTRUCTION_TEMPLATE = "Write {a_sentiment}review of {topic}{length}."
NUMBERS = ["one", "two", "three", "four"]


def all_templates() -> list[str]:
    intros = [t for c in CATEGORIES.values() for t in c["intros"]]
    return intros + POLAR_TEMPLATES + [CONTRAST_TEMPLATE]


def slot_words() -> dict[str, list[str]]:
    """Every word a slot may hold, whatever the category or polarity (for recognition)."""

    def union(key: str) -> list[str]:
        return sorted({w for c in CATEGORIES.values() for w in c[key]})

    topics = union("topics")
    words = {
        "topic": topics,
        "Topic": [t[0].upper() + t[1:] for t in topics],
        "aspect_s": union("aspects_s"),
        "aspect_p": union("aspects_p"),
        "aspect": union("aspects_s") + union("aspects_p"),
        "experience": union("experience"),
        **{k: sorted(set(v)) for k, v in NEUTRAL.items()},
    }
    for slot, by_polarity in POLAR.items():
        words[slot] = sorted(set(by_polarity["+"] + by_polarity["-"]))
    words["adj2"] = words["adj"]
    return words


def _template_regex(template: str, words: dict[str, list[str]]) -> str:
    parts = re.split(r"\{(\w+)\}", template)  # literal, slot, literal, slot, ...
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        else:
            options = sorted(words[part], key=len, reverse=True)
            out.append("(?:" + "|".join(re.escape(w) for w in options) + ")")
    return "".join(out)


@lru_cache(maxsize=1)
def _sentence_regex() -> re.Pattern:
    words = slot_words()
    return re.compile("|".join(f"(?:{_template_regex(t, words)})" for t in all_templates()))


def sentences(text: str) -> list[str]:
    """Split a text after each '.', '!' or '?'; a trailing fragment counts as a sentence."""
    return [s.strip() for s in re.findall(r"[^.!?]*[.!?]|[^.!?]+$", text) if s.strip()]


def parses(sentence: str) -> bool:
    """Whether one sentence is produced by one of the grammar's templates."""
    return _sentence_regex().fullmatch(sentence) is not None


def fluency(text: str) -> float:
    """The fraction of the text's sentences that parse (0 for an empty text)."""
    parts = sentences(text)
    return sum(parses(s) for s in parts) / len(parts) if parts else 0.0


def is_grammatical(text: str) -> bool:
    """Whether the text belongs to the language: sentences that all parse, one space apart."""
    parts = sentences(text)
    return bool(parts) and all(parses(s) for s in parts) and " ".join(parts) == text.strip()
