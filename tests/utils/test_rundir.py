import json

import pytest

from rlhf_from_scratch.utils.errors import ConfigError
from rlhf_from_scratch.utils.rundir import RunDir, read_metrics


def test_writes_config_metrics_checkpoints_and_summary(tmp_path):
    run = RunDir(tmp_path / "r", {"lr": 0.1, "hidden": (64, 64)}, tensorboard=False)
    run.log(10, {"loss": 1.5})
    run.log(20, {"loss": 1.0})
    for step in (10, 20, 30):
        run.save_checkpoint({"step": step, "w": [step]}, step)
    run.write_summary({"eval_return_mean": 3.0})
    run.close()
    assert json.loads((tmp_path / "r/config.json").read_text()) == {"hidden": [64, 64], "lr": 0.1}
    assert [r["step"] for r in read_metrics(tmp_path / "r")] == [10, 20]
    assert [p.name for p in run.checkpoints()] == ["step_000000000020.pt", "step_000000000030.pt"]
    assert not list((tmp_path / "r/checkpoints").glob("*.tmp"))
    assert json.loads((tmp_path / "r/summary.json").read_text())["eval_return_mean"] == 3.0


def test_a_directory_with_a_different_run_is_refused(tmp_path):
    RunDir(tmp_path, {"lr": 0.1, "env": "CartPole-v1"}, tensorboard=False).close()
    with pytest.raises(ConfigError, match="different run.*lr"):
        RunDir(tmp_path, {"lr": 0.2, "env": "CartPole-v1"}, tensorboard=False)


def test_the_same_run_needs_resume(tmp_path):
    RunDir(tmp_path, {"lr": 0.1}, tensorboard=False).close()
    with pytest.raises(ConfigError, match="--resume"):
        RunDir(tmp_path, {"lr": 0.1}, tensorboard=False)
    RunDir(tmp_path, {"lr": 0.1}, resume=True, tensorboard=False).close()


def test_resume_drops_metrics_logged_after_the_checkpoint(tmp_path):
    run = RunDir(tmp_path, {"a": 1}, tensorboard=False)
    run.log(1, {"x": 1})
    run.save_checkpoint({"step": 1}, 1)
    run.log(2, {"x": 2})
    run.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "x"')  # a line cut in half by a kill
    run = RunDir(tmp_path, {"a": 1}, resume=True, tensorboard=False)
    assert run.load_latest_checkpoint()["step"] == 1
    run.log(2, {"x": 22})
    run.close()
    assert read_metrics(tmp_path) == [{"step": 1, "x": 1}, {"step": 2, "x": 22}]


def test_a_non_empty_directory_without_a_config_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        RunDir(tmp_path, {"a": 1}, tensorboard=False)


def test_settings_added_by_a_newer_version_do_not_block_a_resume(tmp_path):
    RunDir(tmp_path, {"lr": 0.1}, tensorboard=False).close()
    RunDir(tmp_path, {"lr": 0.1, "reward": "env"}, resume=True, tensorboard=False).close()
    with pytest.raises(ConfigError, match="different run"):
        RunDir(tmp_path, {"lr": 0.2, "reward": "env"}, resume=True, tensorboard=False)


def test_a_nested_setting_an_old_run_left_at_its_default_still_counts(tmp_path):
    """algo_config records only what differs from the defaults: {} vs {lr: 0.2} differ."""
    RunDir(tmp_path, {"algo_config": {}}, tensorboard=False).close()
    with pytest.raises(ConfigError, match="different run.*algo_config"):
        RunDir(tmp_path, {"algo_config": {"lr": 0.2}}, resume=True, tensorboard=False)
    RunDir(tmp_path, {"algo_config": {}, "compile": True}, resume=True, tensorboard=False).close()


def test_committed_runs_keep_their_metrics_gzipped_and_read_the_same(tmp_path):
    from rlhf_from_scratch.utils.rundir import compress_metrics

    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in (1, 2, 3)]
    text = "\n".join(lines) + '\n{"step": 4, "lo'  # the run was killed mid-line
    (tmp_path / "metrics.jsonl").write_text(text)
    before = read_metrics(tmp_path)
    packed = compress_metrics(tmp_path)
    assert packed.name == "metrics.jsonl.gz" and not (tmp_path / "metrics.jsonl").exists()
    assert read_metrics(tmp_path) == before and [r["step"] for r in before] == [1, 2, 3]
    first = packed.read_bytes()
    (tmp_path / "metrics.jsonl").write_text(text)
    assert compress_metrics(tmp_path).read_bytes() == first  # no timestamp: same rows, same bytes
