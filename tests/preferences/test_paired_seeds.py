"""scripts/paired_seeds.py: the figures a pre-registered seed-paired comparison is judged on."""

import json
from pathlib import Path

import numpy as np
import paired_seeds
import pytest


def test_the_figures_by_hand():
    baseline, treatment = np.array([100.0, 200.0, 300.0]), np.array([110.0, 180.0, 330.0])
    f = paired_seeds.compare(baseline, treatment, resamples=20_000)
    assert f["ratio"] == pytest.approx(620 / 600)
    assert f["difference_mean"] == pytest.approx(20 / 3)  # differences 10, -20, 30
    squares = (10 - 20 / 3) ** 2 + (-20 - 20 / 3) ** 2 + (30 - 20 / 3) ** 2
    assert f["difference_se"] == pytest.approx(np.sqrt(squares / 2) / np.sqrt(3))
    assert f["baseline_std"] == pytest.approx(np.sqrt(20000 / 3))  # over seeds, ddof 0
    # unpaired: the two variances with ddof 1 (the baseline's is 10000), over n
    t_var = ((110 - 620 / 3) ** 2 + (180 - 620 / 3) ** 2 + (330 - 620 / 3) ** 2) / 2
    assert f["unpaired_se"] == pytest.approx(np.sqrt((10000 + t_var) / 3))
    assert f["bootstrap_low"] < f["ratio"] < f["bootstrap_high"]
    # a resample of the three pairs falls below 1 exactly when it holds (200, 180) two or three
    # times: 10a - 20b + 30c < 0 with a + b + c = 3; P(b >= 2) = 3 (1/3)^2 (2/3) + (1/3)^3 = 7/27
    assert f["bootstrap_at_least_1"] == pytest.approx(20 / 27, abs=0.015)


def test_the_bootstrap_resamples_pairs_not_runs():
    # every pair is 10% better: any resample of whole pairs is >= 1, however the seeds differ
    baseline = np.array([500.0, 3000.0, 1200.0, 2500.0])
    f = paired_seeds.compare(baseline, 1.1 * baseline, resamples=5000)
    assert f["bootstrap_at_least_1"] == 1.0
    assert f["bootstrap_low"] == pytest.approx(1.1) and f["bootstrap_high"] == pytest.approx(1.1)


def _run(
    root: Path, name: str, seed: int, ret: float, entropy: float, finished=True, kl=0.02, corr=None
):
    path = root / name
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"seed": seed}))
    rows = [  # the middle of the run (20-80% of its 10 steps): the rows at steps 2 and 8
        {"step": 1, "entropy": 9.0, "approx_kl": 1.0, "clipfrac": 1.0},
        {"step": 2, "approx_kl": kl - 0.01, "clipfrac": 0.1},
        {"step": 8, "entropy": entropy, "approx_kl": kl + 0.01, "clipfrac": 0.3},
        {"step": 10},
    ]
    if corr is not None:  # a preference run: r_hat against the true reward, 0.1 either side
        rows[1]["rm_true_corr"], rows[2]["rm_true_corr"] = corr - 0.1, corr + 0.1
        rows[3]["rm_true_corr"] = -1.0  # the end of the run is not the middle
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if finished:
        summary = {"eval_return_mean": ret, "eval_length_mean": 1000.0, "recent_return": ret / 2}
        (path / "summary.json").write_text(json.dumps(summary))
    return str(path)


def test_a_report_from_run_directories(tmp_path, capsys):
    base = [_run(tmp_path, f"t{s}", s, r, 0.5) for s, r in ((3, 1000.0), (4, 2000.0))]
    treat = [
        _run(tmp_path, f"p{s}", s, r, 4.0, kl=0.04, corr=0.8) for s, r in ((4, 2500.0), (3, 500.0))
    ]
    out = tmp_path / "comparison.md"
    paired_seeds.main(["--baseline", *base, "--treatment", *treat, "--out", str(out)])
    text = capsys.readouterr().out
    assert text == out.read_text()
    # paired by seed, whatever the order given
    row = "| 3 | 1000 | 500 | 50% | 1000 / 1000 | 4.00 / 0.50 | 250 / 500 | 0.0400, 0.20 / "
    assert row + "0.0200, 0.20 | 0.800 / - | - |" in text
    assert "| 4 | 2000 | 2500 | 125% |" in text
    assert "ratio of the means: 100.0%" in text
    assert "paired difference (preferences - true reward): +0, standard error 500" in text
    # unpaired: sqrt((500000 + 2000000) / 2) = 1118
    assert "(unpaired, Welch: 1118;" in text


def test_runs_that_cannot_be_paired_are_refused_by_seed(tmp_path):
    base = [_run(tmp_path, f"t{s}", s, 1000.0, 0.5) for s in (1, 2)]
    treat = [_run(tmp_path, f"p{s}", s, 1000.0, 0.5) for s in (2, 5)]
    with pytest.raises(SystemExit, match=r"seeds \[1, 5\] are run on one side only"):
        paired_seeds.main(["--baseline", *base, "--treatment", *treat])
    with pytest.raises(SystemExit, match="repeat a seed"):
        paired_seeds.main(["--baseline", base[0], base[0], "--treatment", *treat])
    unfinished = _run(tmp_path, "p1", 1, 0.0, 0.5, finished=False)
    with pytest.raises(SystemExit, match="p1: no summary.json"):
        paired_seeds.main(["--baseline", *base, "--treatment", unfinished, treat[0]])
