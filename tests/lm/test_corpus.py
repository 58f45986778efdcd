"""The built-in corpus: determinism, the generator's bookkeeping, the entropy rate."""

import math

import pytest

from rlhf_from_scratch.lm.corpus import (
    entropy_rate,
    generate_demonstrations,
    generate_reviews,
    read_text_corpus,
)
from rlhf_from_scratch.lm.grammar import CATEGORIES, NEUTRAL, POLAR, TOPIC_TEMPLATES
from rlhf_from_scratch.lm.tokenizer import Tokenizer
from rlhf_from_scratch.utils.errors import ConfigError


def test_same_seed_same_corpus_other_seed_other_corpus():
    assert generate_reviews(300, seed=4) == generate_reviews(300, seed=4)
    assert generate_reviews(300, seed=4) != generate_reviews(300, seed=5)
    assert generate_demonstrations(100, seed=2) == generate_demonstrations(100, seed=2)


def test_nll_of_a_short_review_equals_its_probability_by_hand():
    """A positive one-sentence review "{Topic} was {adj}." with no intro and no adverb:
    p = 1/5 (category) 1/|topics| 0.45 (positive) 1/2 (no intro) 1/4 (one sentence)
        1/3 (template) 3/8 (adverb "") 1/12 (adjective)."""
    for r in generate_reviews(3000, seed=0):
        words = r.text.split()
        short = r.sentiment == "positive" and r.text.count(".") == 1 and len(words) == 4
        if short and " was " in r.text and r.text.lower().startswith(r.topic):
            category = next(c for c, v in CATEGORIES.items() if r.topic in v["topics"])
            p = (1 / 5) * (1 / len(CATEGORIES[category]["topics"])) * 0.45 * 0.5 * 0.25
            p *= (
                (1 / len(TOPIC_TEMPLATES))
                * (3 / (len(NEUTRAL["adv"]) + 2))
                / len(POLAR["adj"]["+"])
            )
            if len(r.topic.split()) == 2:  # "The X was great." has 4 words
                assert math.isclose(r.nll, -math.log(p), rel_tol=1e-9)
                return
    pytest.fail("no short review found")


def test_sentiment_modes_have_their_stated_frequencies():
    reviews = generate_reviews(4000, seed=1)
    frac = sum(r.sentiment == "positive" for r in reviews) / len(reviews)
    assert abs(frac - 0.45) < 4 * math.sqrt(0.45 * 0.55 / len(reviews))


def test_entropy_rate_is_positive_and_per_token():
    reviews = generate_reviews(2000, seed=0)
    char = entropy_rate(reviews, Tokenizer("char").encode)
    assert 0.1 < char < 0.5  # nats per character
    # The same choices spread over as many byte tokens (ASCII text): the same rate.
    assert math.isclose(char, entropy_rate(reviews, Tokenizer("byte").encode))


def test_an_empty_corpus_file_is_a_config_error(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n")
    with pytest.raises(ConfigError, match="empty"):
        read_text_corpus(tmp_path / "empty.txt")
    with pytest.raises(ConfigError, match="does not exist"):
        read_text_corpus(tmp_path / "missing.txt")
