import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rlhf_from_scratch.preferences.segments import Segment
from rlhf_from_scratch.preferences.store import PreferenceStore
from rlhf_from_scratch.utils.errors import ConfigError


def clip(seed: int, H: int = 5) -> Segment:
    rng = np.random.default_rng(seed)
    return Segment(
        obs=rng.normal(size=(H, 3)),
        actions=rng.normal(size=(H, 2)),
        true_rewards=rng.normal(size=H),
    )


def test_pairs_roundtrip_through_the_store(tmp_path):
    store = PreferenceStore(tmp_path / "p.sqlite", task="Hopper-v5")
    a, b = clip(0), clip(1)
    store.add_segment_pair(a, b, 1.0, "synthetic:oracle")
    store.add_segment_pair(b, a, 0.5, "synthetic:oracle")
    [(_, a2, b2, mu), (_, _, _, tie)] = store.segment_pairs()
    assert np.array_equal(a2.obs, a.obs) and np.array_equal(b2.true_rewards, b.true_rewards)
    assert (mu, tie) == (1.0, 0.5)
    assert len(store) == 2
    assert a2.alive_steps is None
    ended = Segment(a.obs, a.actions, a.true_rewards, alive_steps=3)
    store.add_segment_pair(ended, b, 0.0, "synthetic:oracle")
    assert store.segment_pairs()[-1][1].alive_steps == 3


def test_export_then_import_copies_every_label(tmp_path):
    source = PreferenceStore(tmp_path / "a.sqlite", task="Hopper-v5")
    for i in range(4):
        source.add_segment_pair(clip(i), clip(i + 10), float(i % 2), "human")
    assert source.export_jsonl(tmp_path / "labels.jsonl") == 4
    target = PreferenceStore(tmp_path / "b.sqlite", task="Hopper-v5")
    assert target.import_jsonl(tmp_path / "labels.jsonl") == 4
    for (_, a, b, mu), (_, a2, b2, mu2) in zip(source.segment_pairs(), target.segment_pairs()):
        assert np.array_equal(a.obs, a2.obs) and np.array_equal(b.actions, b2.actions) and mu == mu2
    other = PreferenceStore(tmp_path / "c.sqlite", task="Walker2d-v5")
    with pytest.raises(ConfigError, match="not 'Walker2d-v5'"):
        other.import_jsonl(tmp_path / "labels.jsonl")


def test_a_store_from_another_task_is_refused(tmp_path):
    PreferenceStore(tmp_path / "p.sqlite", task="Hopper-v5").close()
    with pytest.raises(ConfigError, match="holds labels for 'Hopper-v5'"):
        PreferenceStore(tmp_path / "p.sqlite", task="HalfCheetah-v5")


def test_a_corrupt_store_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "p.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="not a readable SQLite file"):
        PreferenceStore(path, task="Hopper-v5")
    assert path.read_bytes() == b"this is not a database" * 100


def test_a_locked_store_gives_a_clear_error(tmp_path):
    path = tmp_path / "p.sqlite"
    PreferenceStore(path, task="Hopper-v5").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(ConfigError, match="locked"):
        PreferenceStore(path, task="Hopper-v5", timeout=0.2)
    holder.execute("ROLLBACK")
    holder.close()


def test_a_bad_label_is_refused(tmp_path):
    store = PreferenceStore(tmp_path / "p.sqlite", task="t")
    with pytest.raises(ConfigError, match="mu must be 0, 0.5 or 1"):
        store.add_segment_pair(clip(0), clip(1), 0.7, "human")
    assert len(store) == 0  # nothing half-written


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from rlhf_from_scratch.preferences.segments import Segment
    from rlhf_from_scratch.preferences.store import PreferenceStore

    store = PreferenceStore(sys.argv[1], task="Hopper-v5")
    rng = np.random.default_rng(0)
    for i in range(100000):
        a = Segment(rng.normal(size=(20, 11)), rng.normal(size=(20, 3)), rng.normal(size=20))
        b = Segment(rng.normal(size=(20, 11)), rng.normal(size=(20, 3)), rng.normal(size=20))
        cid = store.add_segment_pair(a, b, float(i % 2), "synthetic:oracle")
        print(cid, flush=True)  # acknowledged: the label is committed
    """
)


def test_every_acknowledged_label_survives_sigkill(tmp_path):
    path = tmp_path / "p.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    deadline = time.time() + 60
    while len(acknowledged) < 50 and time.time() < deadline:
        acknowledged.append(int(proc.stdout.readline()))
    proc.kill()  # SIGKILL: no cleanup, no flush, mid-write
    proc.wait()
    store = PreferenceStore(path, task="Hopper-v5")
    stored = {cid for cid, *_ in store.comparisons()}
    assert len(acknowledged) == 50
    assert set(acknowledged) <= stored
    assert all(len(a) == 20 for _, a, _, _ in store.segment_pairs())  # no torn rows
