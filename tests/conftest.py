"""Fixtures shared across the test folders."""

import pytest

from rlhf_from_scratch.envs.train import train
from rlhf_from_scratch.utils.rundir import read_metrics


class Kill(Exception):
    """Raised from `on_update` to stop a run the way a kill would (before its checkpoint)."""


@pytest.fixture
def kill_and_resume(tmp_path):
    """run(config, kill_when) trains `config` unbroken in tmp_path/unbroken, then in
    tmp_path/killed stopped at the first update where kill_when(step, metrics) is true and
    resumed; asserts that both logs hold the same rows (timings aside) and returns both
    summaries."""

    def run(config, kill_when) -> tuple[dict, dict]:
        unbroken = train(config, tmp_path / "unbroken")

        def kill(step, metrics):
            if kill_when(step, metrics):
                raise Kill

        with pytest.raises(Kill):
            train(config, tmp_path / "killed", on_update=kill)
        resumed = train(config, tmp_path / "killed", resume=True)
        strip = lambda rows: [{k: v for k, v in r.items() if "second" not in k} for r in rows]  # noqa: E731
        assert strip(read_metrics(tmp_path / "killed")) == strip(
            read_metrics(tmp_path / "unbroken")
        )
        return unbroken, resumed

    return run
