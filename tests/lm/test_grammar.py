"""The grammar checker: accepts what the corpus generates, rejects shuffled text."""

import random

from rlhf_from_scratch.lm.corpus import generate_demonstrations, generate_reviews
from rlhf_from_scratch.lm.grammar import fluency, is_grammatical, parses, sentences


def test_generated_text_is_grammatical():
    for r in generate_reviews(1000, seed=3):
        assert is_grammatical(r.text), r.text
        assert fluency(r.text) == 1.0
    for d in generate_demonstrations(300, seed=3):
        assert is_grammatical(d.response), d.response


def test_shuffled_text_is_rejected():
    rng = random.Random(0)
    long = [r.text for r in generate_reviews(2000, seed=4) if len(sentences(r.text)) >= 3]
    accepted, fluencies = 0, []
    for text in long:
        words = text.split()
        rng.shuffle(words)
        shuffled = " ".join(words)
        accepted += is_grammatical(shuffled)
        fluencies.append(fluency(shuffled))
    assert accepted / len(long) < 0.01
    assert sum(fluencies) / len(fluencies) < 0.1


def test_fluency_is_the_fraction_of_sentences_that_parse():
    text = "The food was great. food great The was. I loved the bakery. It was"
    assert sentences(text) == [
        "The food was great.",
        "food great The was.",
        "I loved the bakery.",
        "It was",
    ]
    assert fluency(text) == 0.5
    assert not is_grammatical(text)
    assert not is_grammatical("The food was great.  I loved the bakery.")  # two spaces
    assert parses("The prices were very good.") and not parses("The prices was very good.")
    assert fluency("") == 0.0
