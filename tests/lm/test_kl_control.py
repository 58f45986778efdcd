"""lm/kl_control.py: Ziegler et al.'s adaptive beta against hand-computed steps; fixed beta."""

import pytest

from rlhf_from_scratch.lm.kl_control import KLController
from rlhf_from_scratch.utils.errors import ConfigError


def test_fixed_beta_never_moves():
    c = KLController(0.1)
    assert c.update(100.0, 64) == 0.1 and c.update(0.0, 64) == 0.1


def test_adaptive_beta_follows_the_clipped_proportional_rule():
    c = KLController(0.1, target=6.0, horizon=1000)
    # KL 9 > target: err = clip(9/6 - 1, -0.2, 0.2) = 0.2; beta *= 1 + 0.2 * 50 / 1000
    assert c.update(9.0, 50) == pytest.approx(0.1 * 1.01)
    # KL 5.4 < target: err = 5.4/6 - 1 = -0.1 (inside the clip)
    beta = c.beta
    assert c.update(5.4, 100) == pytest.approx(beta * (1 - 0.1 * 100 / 1000))
    # KL 0: err clipped to -0.2
    beta = c.beta
    assert c.update(0.0, 10) == pytest.approx(beta * (1 - 0.2 * 10 / 1000))


def test_state_round_trip():
    a = KLController(0.2, target=3.0)
    a.update(10.0, 64)
    b = KLController(1.0)
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(beta=-0.1), "beta must be >= 0"),
        (dict(beta=0.1, target=0.0), "--kl-target must be > 0"),
        (dict(beta=0.1, horizon=0), "--kl-horizon must be > 0"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        KLController(**kwargs)
