"""scripts/training_dips.py: the worst mid-run fall of the training return, and r_hat there."""

import json
import math

import pytest
import training_dips


def test_the_worst_dip_is_the_largest_fall_below_an_earlier_peak():
    # peaks 5 then 9; falls: 5 -> 2 (3), 9 -> 4 (5), 9 -> 8 (1); a later rise does not count
    assert training_dips.worst_dip([1.0, 5.0, 2.0, 9.0, 4.0, 8.0, 12.0]) == (5.0, 4)
    assert training_dips.worst_dip([1.0, math.nan, 3.0, 3.0]) == (0.0, None)  # never falls
    assert training_dips.worst_dip([4.0, math.nan, 1.0]) == (3.0, 2)  # gaps are skipped


def test_windows_average_their_rows_and_leave_out_a_short_last_one():
    rows = [
        {"step": 10, "episodic_return": 1.0},
        {"step": 40, "episodic_return": 3.0, "rm_true_corr": 0.5},
        {"step": 60, "episodic_return": 10.0, "rm_true_corr": 0.9},
        {"step": 90, "rm_true_corr": 0.7},
        {"step": 120, "episodic_return": -50.0},  # 20 steps into a window of 100: left out
    ]
    wins = training_dips.windows(rows, 50)
    assert [w["start"] for w in wins] == [0, 50]
    assert wins[0]["ret"] == pytest.approx(2.0) and wins[0]["corr"] == pytest.approx(0.5)
    assert wins[1]["ret"] == pytest.approx(10.0) and wins[1]["corr"] == pytest.approx(0.8)
    assert [w["start"] for w in training_dips.windows(rows, 100)] == [0]
    assert [w["start"] for w in training_dips.windows(rows, 70)] == [0, 70]  # 50 steps of 70: kept


def test_a_run_with_a_dip_where_r_hat_lost_the_true_reward(tmp_path):
    # windows of 100 steps: returns 100, 300, 50 (the dip, corr 0.2), 400; corr 0.9 elsewhere
    returns, corrs = [100.0, 300.0, 50.0, 400.0], [0.9, 0.9, 0.2, 0.9]
    rows = [
        {"step": 100 * k + 50, "episodic_return": r, "rm_true_corr": c}
        for k, (r, c) in enumerate(zip(returns, corrs, strict=True))
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "summary.json").write_text(json.dumps({"eval_return_mean": 420.0}))
    d = training_dips.describe(str(tmp_path), 100)
    assert (d["drop"], d["peak"], d["at"]) == (250.0, 300.0, 200)
    assert d["corr_at"] == pytest.approx(0.2) and d["corr_min"] == pytest.approx(0.2)
    assert d["final"] == 420.0
    text = training_dips.table([d], 100)
    assert f"| {tmp_path.name} | 420 | 250 | 300 | 0.2k | 0.20 | 0.20 |" in text.splitlines()[-1]


def test_a_folder_without_metrics_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match=str(tmp_path)):
        training_dips.describe(str(tmp_path), 100)
