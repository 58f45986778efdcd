"""Gold labelers: demonstrations get full marks, broken responses lose exactly what they break."""

import math

import pytest

from rlhf_from_scratch.lm import gold
from rlhf_from_scratch.lm.corpus import generate_demonstrations, generate_reviews
from rlhf_from_scratch.preferences.teachers import make_teacher


def test_every_demonstration_follows_its_instruction():
    for d in generate_demonstrations(500, seed=7):
        assert gold.instruction_following(d.prompt, d.response) == 1.0, (d.prompt, d.response)


def test_review_sentiment_matches_its_polarity():
    for r in generate_reviews(500, seed=7):
        s = gold.sentiment(r.text)
        if r.sentiment == "positive":
            assert s >= gold.SENTIMENT_MARGIN, r.text
        elif r.sentiment == "negative":
            assert s <= -gold.SENTIMENT_MARGIN, r.text


def test_instruction_checks_topic_sentiment_and_length():
    prompt = "Instruction: Write a positive review of the bakery in two sentences.\nResponse: "
    assert gold.parse_instruction(prompt) == {
        "topic": "the bakery",
        "sentiment": "positive",
        "n_sentences": 2,
    }
    good = "I loved the bakery. The food was great."
    assert gold.instruction_following(prompt, good) == 1.0
    assert gold.instruction_following(prompt, "I loved the bakery.") == 2 / 3
    assert gold.instruction_following(prompt, "I hated the bakery. The food was awful.") == 2 / 3
    assert gold.instruction_following(prompt, "I loved the cartoon. It was great.") == 2 / 3
    assert math.isnan(gold.instruction_following("Tell me a story.", good))
    assert gold.parse_instruction("Write a review of the old inn.")["n_sentences"] is None


def test_preferences_go_through_the_shared_teachers():
    teacher = make_teacher("oracle")
    better, worse = "The bakery was truly wonderful.", "The bakery was awful."
    assert gold.preference(teacher, "sentiment", "", better, worse) == 1.0
    assert gold.preference(teacher, "sentiment", "", worse, better) == 0.0
    assert gold.preference(teacher, "grammar", "", better, better) == 0.5


def test_win_rate_counts_wins_and_half_of_the_ties():
    from rlhf_from_scratch.lm.gold import win_rate

    assert win_rate([0.5, 0.2, -0.1, 0.3], [0.1, 0.2, 0.4, -1.0]) == (1 + 0.5 + 0 + 1) / 4
    assert win_rate([0.1, 0.2], [0.1, 0.2]) == 0.5  # against itself: even
    with pytest.raises(ValueError):
        win_rate([0.1], [0.1, 0.2])
