"""Simulated teachers (B-Pref): each option's label statistics match its definition."""

import math

import numpy as np
import pytest

from rlhf_from_scratch.preferences.teachers import Teacher, TeacherConfig, make_teacher
from rlhf_from_scratch.utils.errors import ConfigError

N = 20000


def within(freq: float, p: float, n: int = N) -> bool:
    """A frequency within 4 binomial standard deviations of p (fails ~6e-5 of the time)."""
    return abs(freq - p) <= 4 * math.sqrt(p * (1 - p) / n) + 1e-12


def test_oracle_prefers_the_larger_return():
    t = make_teacher("oracle")
    assert t.label([1.0, 2.0], [0.0, 2.5]) == 1.0
    assert t.label([0.0], [0.1]) == 0.0
    assert t.label([1.0], [1.0]) == 0.5


def test_stochastic_teacher_follows_bradley_terry():
    beta, r1, r2 = 2.0, [0.4, 0.1], [0.2, 0.0]
    t = Teacher(TeacherConfig(beta=beta), seed=0)
    freq = np.mean([t.label(r1, r2) for _ in range(N)])
    assert within(freq, 1 / (1 + math.exp(-beta * 0.3)))


def test_mistake_rate_flips_labels_with_probability_eps():
    t = make_teacher("mistake", seed=1, eps=0.2)
    freq_wrong = np.mean([t.label([1.0], [0.0]) == 0.0 for _ in range(N)])
    assert within(freq_wrong, 0.2)


def test_skip_and_equal_thresholds():
    skip = make_teacher("skip", skip_threshold=1.0)
    assert skip.label([0.3, 0.3], [0.2, 0.5]) is None  # both returns below 1.0
    assert skip.label([0.3, 0.8], [0.2, 0.5]) == 1.0
    equal = make_teacher("equal", equal_threshold=0.5)
    assert equal.label([1.0], [1.4]) == 0.5
    assert equal.label([1.0], [1.6]) == 0.0


def test_myopic_teacher_weighs_the_end_of_the_clip():
    # Undiscounted, the first clip is better (3 > 2.5); with gamma^(H-1-t) weights the
    # second, which is good at the end, wins: 3 * 0.5^2 = 0.75 < 2.5.
    r1, r2 = [3.0, 0.0, 0.0], [0.0, 0.0, 2.5]
    assert make_teacher("oracle").label(r1, r2) == 1.0
    assert make_teacher("myopic", gamma=0.5).label(r1, r2) == 0.0


def test_same_seed_same_labels_and_bad_options_are_config_errors():
    a = [make_teacher("stoc", seed=3).label([0.1], [0.0]) for _ in range(1)]
    t1, t2 = make_teacher("stoc", seed=3), make_teacher("stoc", seed=3)
    assert [t1.label([0.1], [0.0]) for _ in range(50)] == [
        t2.label([0.1], [0.0]) for _ in range(50)
    ]
    assert a[0] in (0.0, 1.0)
    with pytest.raises(ConfigError, match="eps"):
        Teacher(TeacherConfig(eps=1.5))
    with pytest.raises(ConfigError, match="did you mean 'mistake'"):
        make_teacher("mistak")
    with pytest.raises(ConfigError, match="same length"):
        make_teacher().label([1.0, 2.0], [1.0])
