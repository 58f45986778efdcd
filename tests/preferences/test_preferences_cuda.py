"""Preference runs on a CUDA GPU: skipped on machines without one (CI here), run on the GPU
machine by scripts/device_session.sh. The reward-model ensemble lives on the run's device, the
clips stay in host memory, and r_hat reaches the learner on the device of its rollout."""

import numpy as np
import pytest
import torch

from rlhf_from_scratch.envs.train import default_config, train
from rlhf_from_scratch.preferences.reward_model import RewardEnsemble, RewardModelConfig
from rlhf_from_scratch.preferences.segments import Segment
from rlhf_from_scratch.utils.rundir import read_metrics

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_the_ensemble_fits_and_scores_on_cuda():
    rng = np.random.default_rng(0)
    clip = lambda: Segment(  # noqa: E731
        rng.integers(0, 256, (6, 4, 84, 84), dtype=np.uint8),
        rng.integers(0, 6, 6),
        rng.normal(size=6),
    )
    labelled = [(i, clip(), clip(), float(i % 2)) for i in range(1, 9)]
    ensemble = RewardEnsemble((4, 84, 84), 6, True, RewardModelConfig(), seed=0, device="cuda")
    assert all(p.is_cuda for p in ensemble.parameters())
    for fit in (lambda: ensemble.fit(labelled, [clip()]), lambda: ensemble.fit_batches(
            labelled, [clip()], batches=2)):  # fmt: skip
        assert np.isfinite(fit()["rm_train_loss"])
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)  # on the host
    assert ensemble.reward(frames, torch.zeros(5, dtype=torch.long)).is_cuda
    assert ensemble.preference_probabilities([(a, b) for _, a, b, _ in labelled]).shape == (3, 8)


@pytest.mark.parametrize(
    "env,extra",
    [("Pendulum-v1", dict(num_envs=2, n_steps=200, total_steps=1200, labels=20)),
     ("Pong-v5", dict(num_envs=2, n_steps=32, total_steps=192, labels=12, segment_steps=8,
                      pool_size=20))],
)  # fmt: skip
def test_a_preference_run_on_cuda(env, extra, tmp_path):
    config = default_config(
        "ppo", env, seed=0, reward="preferences", device="cuda", eval_episodes=1, log_every=1,
        **extra,
    )  # fmt: skip
    summary = train(config, tmp_path)
    assert summary["labels_used"] == extra["labels"]
    assert all(np.isfinite(row["rm_reward_mean"]) for row in read_metrics(tmp_path))
