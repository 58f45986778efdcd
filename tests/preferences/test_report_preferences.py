"""scripts/report_preferences.py: the table of a preference benchmark, and the hand-written
reading below it kept when the table is made again."""

import gzip
import json
from dataclasses import asdict

import report_preferences

from rlhf_from_scratch.envs.train import default_config


def _run(root, name, seed, eval_return, **settings):
    """A finished run's files, written by hand: config.json, summary.json, two metric rows."""
    run = root / name
    run.mkdir(parents=True)
    config = asdict(default_config("ppo", "Pendulum-v1", seed=seed, **settings))
    (run / "config.json").write_text(json.dumps(config))
    summary = {"eval_return_mean": eval_return, "eval_return_std": 10.0}
    if config["reward"] == "preferences":
        summary["rm_val_accuracy"] = 0.9
    (run / "summary.json").write_text(json.dumps(summary))
    rows = [{"step": 1000, "episodic_return": -900.0}, {"step": 2000, "episodic_return": -300.0}]
    (run / "metrics.jsonl.gz").write_bytes(gzip.compress("\n".join(map(json.dumps, rows)).encode()))


def test_the_table_and_the_hand_written_reading_kept(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    for seed, (true, pref) in enumerate([(-200.0, -300.0), (-400.0, -500.0)]):
        _run(runs, f"true-s{seed}", seed, true)
        _run(runs, f"pref-s{seed}", seed, pref, reward="preferences", labels=60)
    report_preferences.main([str(runs), "--out", str(out)])
    text = (out / "README.md").read_text()
    true_row = next(line for line in text.splitlines() if line.startswith("| true reward"))
    pref_row = next(line for line in text.splitlines() if line.startswith("| preferences"))
    assert "| 2 | -300 ± 100 |" in true_row
    assert "| 60 |" in pref_row and "| -400 ± 100 |" in pref_row
    assert "| -100 |" in pref_row  # a difference, no ratio: the true-reward mean is negative
    assert (out / "curves.png").exists()

    # a reading written by hand under a heading that goes on past "(written by hand" survives
    reading = "## What we see (written by hand from the table and the curves)\n\nIt swings up.\n"
    (out / "README.md").write_text(text + "\n" + reading)
    report_preferences.main([str(runs), "--out", str(out)])
    again = (out / "README.md").read_text()
    assert again.count("| preferences") == 1 and again.rstrip().endswith(reading.rstrip())
