"""scripts/oracle_scaling_check.py: the fixed-map oracle through the return scaling is the
collector's scaling of the true reward, update for update."""

from oracle_scaling_check import main


def test_the_scaled_oracle_is_the_true_rewards_scaling(capsys):
    # the shift b = t M / S = 0.1 x -6 / 3 = -0.2: the oracle adds nothing to 0.1 r / 3
    flags = "--env Pendulum-v1 --updates 3 --mean -6 --std 3 --target-mean -0.2"
    gaps = main(flags.split())
    assert len(gaps) == 3
    # after the first update's first steps (the scaler's prior), the two agree
    assert all(largest < 1e-3 for largest, _ in gaps[1:])
    assert "| update |" in capsys.readouterr().out
