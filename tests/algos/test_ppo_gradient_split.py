"""scripts/ppo_gradient_split.py: the policy's and the value's parts of PPO's clipped gradient."""

import json

import numpy as np
import ppo_gradient_split
import pytest


def test_the_two_parts_make_up_the_norm_the_clip_saw(tmp_path, capsys):
    flags = ["--env", "CartPole-v1", "--total-steps", "1024", "--seed", "0", "--eval-episodes", "0"]
    ppo_gradient_split.main([str(tmp_path / "out"), "--", *flags, "--max-grad-norm", "0.05"])
    lines = (tmp_path / "out" / "gradient_split.jsonl").read_text().splitlines()
    updates = [json.loads(line) for line in lines]
    assert [u["update"] for u in updates] == [1, 2]  # 1024 steps, 4 envs x 128 per update
    run_metrics = [json.loads(line) for line in (tmp_path / "out" / "run" / "metrics.jsonl").open()]
    logged = {m["step"] // 512: m["grad_norm"] for m in run_metrics if "grad_norm" in m}
    assert logged  # (the training log keeps some of the updates)
    for u in updates:
        rows = np.array(u["rows"])
        assert len(rows) == 16  # 4 epochs x 4 minibatches
        total = np.hypot(rows[:, 0], rows[:, 1])
        # the factor is the clip's own, from the norm of both parts together
        np.testing.assert_allclose(rows[:, 2], np.minimum(1, 0.05 / (total + 1e-6)), rtol=1e-5)
        # and the training log's mean gradient norm is the mean of those norms
        if u["update"] in logged:
            assert logged[u["update"]] == pytest.approx(total.mean(), rel=1e-4)
        assert (rows[:, :2] > 0).all()
    assert "| update |" in capsys.readouterr().out


def test_effective_sample_size():
    assert ppo_gradient_split.effective_sample_size(np.full(8, 0.3)) == pytest.approx(1.0)
    # one minibatch carries all the weight: 1 of 4
    assert ppo_gradient_split.effective_sample_size(np.array([1.0, 0, 0, 0])) == pytest.approx(0.25)


def test_a_folder_in_use_is_refused(tmp_path):
    (tmp_path / "kept.txt").write_text("x")
    with pytest.raises(SystemExit):
        ppo_gradient_split.main([str(tmp_path), "--", "--env", "CartPole-v1"])
    assert (tmp_path / "kept.txt").read_text() == "x"
