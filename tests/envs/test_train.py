"""Training end to end: learning on small problems, exact resume, and mistakes in the input."""

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhf_from_scratch.cli import main
from rlhf_from_scratch.envs.defaults import tuned_applies
from rlhf_from_scratch.envs.train import all_settings, build, default_config, train
from rlhf_from_scratch.utils.errors import ConfigError
from rlhf_from_scratch.utils.rundir import read_metrics

# Budgets and thresholds for CartPole-v1 (max 500). Seeds are fixed; each run takes ~10-20 s.
LEARNING = {
    "ppo": (50_000, 195.0),
    "a2c": (60_000, 195.0),
    "trpo": (50_000, 195.0),
    "reinforce": (50_000, 195.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("algo", sorted(LEARNING))
def test_each_algorithm_learns_cartpole(algo, tmp_path):
    steps, threshold = LEARNING[algo]
    config = default_config(algo, "CartPole-v1", total_steps=steps, seed=1, eval_episodes=10)
    summary = train(config, tmp_path / algo)
    assert summary["eval_return_mean"] >= threshold, summary


@pytest.mark.slow
def test_ppo_balances_the_inverted_pendulum(tmp_path):
    config = default_config(
        "ppo", "InvertedPendulum-v5", total_steps=60_000, seed=1, eval_episodes=5
    )
    summary = train(config, tmp_path / "ip")
    assert summary["eval_return_mean"] >= 900, summary


def test_a_few_ppo_updates_on_a_real_atari_game(tmp_path):
    config = default_config(
        "ppo",
        "Pong-v5",
        num_envs=2,
        n_steps=32,
        total_steps=128,
        n_minibatches=2,
        n_epochs=1,
        eval_episodes=0,
        log_every=1,
    )
    train(config, tmp_path / "pong")
    rows = read_metrics(tmp_path / "pong")
    assert [r["step"] for r in rows] == [64, 128]
    assert all(np.isfinite(r["policy_loss"]) and r["approx_kl"] >= 0 for r in rows)


@pytest.mark.parametrize(
    "algo,env_id,overrides",
    [
        ("ppo", "CartPole-v1", dict(num_envs=2, n_steps=64, total_steps=128 * 7)),
        ("trpo", "Hopper-v5", dict(num_envs=1, n_steps=64, total_steps=64 * 6)),
        # MuJoCo PPO: the compiled loss and the NumPy sampler
        ("ppo", "Hopper-v5", dict(num_envs=1, n_steps=64, total_steps=64 * 6)),
    ],
)
def test_a_killed_and_resumed_run_ends_where_an_unbroken_run_ends(
    algo, env_id, overrides, tmp_path, kill_and_resume
):
    config = default_config(
        algo, env_id, seed=3, checkpoint_every=2, log_every=1, eval_episodes=2, **overrides
    )
    # killed after update 5 was logged, before its checkpoint: the resume starts from update 4
    unbroken, resumed = kill_and_resume(
        config, lambda step, _: step == 5 * config.num_envs * config.n_steps
    )
    assert resumed["eval_return_mean"] == unbroken["eval_return_mean"]
    a = torch.load(sorted((tmp_path / "unbroken/checkpoints").glob("*.pt"))[-1], weights_only=False)
    b = torch.load(sorted((tmp_path / "killed/checkpoints").glob("*.pt"))[-1], weights_only=False)
    for key, value in a["policy"].items():
        assert torch.equal(value, b["policy"][key]), key


def test_sparse_logging_keeps_every_episode_and_changes_no_learning(tmp_path):
    """A2C updates are 40 steps here: a row per update against one per 1000 steps."""
    config = default_config("a2c", "CartPole-v1", total_steps=4000, checkpoint_every=50)
    every = train(dataclasses.replace(config, log_every=1), tmp_path / "every")
    sparse = train(dataclasses.replace(config, log_every=1000), tmp_path / "sparse")
    rows_every, rows_sparse = read_metrics(tmp_path / "every"), read_metrics(tmp_path / "sparse")
    assert len(rows_every) == 100
    # a row at >= 1000 steps since the last one, and one at each checkpoint (every 2000 steps)
    assert [r["step"] for r in rows_sparse] == [1000, 2000, 3000, 4000]
    episodes = lambda rows: sum(r.get("episodes", 0) for r in rows)  # noqa: E731
    assert episodes(rows_sparse) == episodes(rows_every) > 50
    # the mean return of a sparse row is the mean over the episodes of the rows it stands for
    returns = [r for r in rows_every if r["step"] <= 1000 and "episodes" in r]
    expected = sum(r["episodic_return"] * r["episodes"] for r in returns) / episodes(returns)
    assert rows_sparse[0]["episodic_return"] == pytest.approx(expected)
    assert sparse["recent_return"] == every["recent_return"]
    assert sparse["eval_return_mean"] == every["eval_return_mean"]


def test_tuned_settings_apply_on_the_true_reward_and_give_way_to_flags():
    tuned = default_config("ppo", "HalfCheetah-v5")
    assert (tuned.n_steps, tuned.hidden, tuned.activation) == (512, (256, 256), "relu")
    assert tuned.algo_config["lr"] == 2.0633e-5 and tuned.algo_config["anneal_lr"] is False
    assert tuned.normalize_obs and tuned.normalize_reward  # from the family, kept
    family = default_config("ppo", "HalfCheetah-v5", family_defaults=True)
    assert (family.n_steps, family.hidden, family.algo_config["lr"]) == (2048, (64, 64), 3e-4)
    # HalfCheetah's preference runs keep PPO's tuned entry (session 46)
    cheetah = default_config("ppo", "HalfCheetah-v5", reward="preferences")
    assert (cheetah.n_steps, cheetah.hidden, cheetah.log_std_init) == (512, (256, 256), -2.0)
    assert cheetah.algo_config["gamma"] == 0.98 and cheetah.algo_config["n_epochs"] == 20
    assert cheetah.preference_config["rm_target_std"] == 0.1  # with the recipe beside it
    own_scale = default_config("ppo", "HalfCheetah-v5", reward="preferences", rm_target_std=1.0)
    assert own_scale.n_steps == 512  # a run's own scale leaves the recipe out, not the entry
    assert default_config("ppo", "Walker2d-v5", reward="preferences").n_steps == 2048
    # the gate itself: an entry applies under preferences only where TUNED_WITH_PREFERENCES says
    assert tuned_applies("ppo", "HalfCheetah-v5", "preferences")
    assert not tuned_applies("ppo", "Walker2d-v5", "preferences")
    assert tuned_applies("ppo", "Walker2d-v5", "env") and tuned_applies("trpo", "Hopper-v5", None)
    assert default_config("trpo", "HalfCheetah-v5", reward="preferences").n_steps == 2048
    family = default_config("ppo", "HalfCheetah-v5", reward="preferences", family_defaults=True)
    assert family.n_steps == 2048 and "rm_target_std" not in family.preference_config
    assert default_config("ppo", "HalfCheetah-v4").n_steps == 512  # any version
    assert default_config("ppo", "HalfCheetah-v5", n_steps=1024, lr=1e-4).n_steps == 1024
    assert default_config("ppo", "HalfCheetah-v5", lr=1e-4).algo_config["lr"] == 1e-4
    # Walker2d's tuned entry left in session 47 (behind the family's on sixteen seeds)
    walker = default_config("ppo", "Walker2d-v5")
    assert (walker.n_steps, walker.algo_config["lr"], walker.algo_config["clip"]) == (
        2048,
        3e-4,
        0.2,
    )
    assert default_config("ppo", "Walker2d-v5", family_defaults=True) == walker
    assert default_config("ppo", "Hopper-v5").n_steps == 2048  # no tuned entry: the family's
    assert default_config("trpo", "HalfCheetah-v5").n_steps == 2048  # tuned for PPO only


# ---- bad input, through the command line as a student meets it -----------------------------
def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--env", "Hoper-v5"], "did you mean 'Hopper-v5'"),
        (["--algo", "ppo2"], "unknown algorithm 'ppo2'; did you mean 'ppo'"),
        (["--lr", "0"], "lr must be > 0"),
        (["--lr=-1e-3"], "lr must be > 0"),
        (["--clip", "0"], "clip must be > 0"),
        (["--gamma", "1.5"], r"gamma must be in \[0, 1\]"),
        (["--algo", "a2c", "--clip", "0.2"], "--clip is not a setting of a2c"),
        (["--algo", "trpo", "--shared"], "separate actor and critic"),
        (["--total-steps", "0"], "total_steps must be > 0"),
    ],
)
def test_mistakes_in_flags_get_one_clear_line(capsys, tmp_path, args, message):
    code, err = run_cli(capsys, "train", "--run-dir", str(tmp_path / "r"), "--quiet", *args)
    assert code == 2
    assert err.startswith("rlhf: error:")
    assert len(err.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(message, err), err


def test_settings_refused_while_the_run_is_built_print_no_progress_bar(capsys, tmp_path):
    # refused inside train(), after the flags were read: the message must still be the only line
    code, err = run_cli(
        capsys,
        "train",
        "--run-dir",
        str(tmp_path / "r"),
        "--reward",
        "preferences",
        "--scale-returns",
    )
    assert code == 2 and err.startswith("rlhf: error: --scale-returns needs"), err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("word,value", [("false", False), ("true", True), ("No", False)])
def test_an_optional_yes_no_flag_reads_the_word(tmp_path, word, value):
    # bool("false") is True: a plain type=bool would turn --fixed-length false into true
    run_dir = tmp_path / "r"
    main(
        ["train", "--env", "CartPole-v1", "--run-dir", str(run_dir), "--quiet"]
        + ["--total-steps", "128", "--num-envs", "1", "--n-steps", "128", "--eval-episodes", "0"]
        + ["--fixed-length", word]
    )
    assert json.loads((run_dir / "config.json").read_text())["fixed_length"] is value


def test_an_optional_yes_no_flag_refuses_other_words(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--run-dir", str(tmp_path), "--fixed-length", "maybe")
    assert code == 2 and "--fixed-length: expected true or false, got 'maybe'" in err


def test_a_run_directory_holding_another_run_is_refused(capsys, tmp_path):
    common = [
        "train",
        "--run-dir",
        str(tmp_path),
        "--quiet",
        "--total-steps",
        "256",
        "--num-envs",
        "1",
        "--n-steps",
        "128",
        "--eval-episodes",
        "0",
    ]
    main(common)
    code, err = run_cli(capsys, *common, "--seed", "7")
    assert code == 2 and "already holds a different run" in err and "seed" in err
    code, err = run_cli(capsys, *common)
    assert code == 2 and "--resume" in err


class NaNAfter(gym.Env):
    """CartPole-like env whose reward becomes NaN after 300 steps: a broken reward signal."""

    observation_space = gym.spaces.Box(-1, 1, (2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        reward = float("nan") if self.t > 300 else 1.0
        return np.zeros(2, dtype=np.float32), reward, False, self.t % 50 == 0, {}


def test_a_nan_loss_stops_the_run_naming_step_and_quantity_and_keeps_the_checkpoint(tmp_path):
    gym.register("NaNAfter-v0", entry_point=NaNAfter)
    config = default_config(
        "ppo",
        "NaNAfter-v0",
        num_envs=1,
        n_steps=100,
        total_steps=1000,
        checkpoint_every=1,
        eval_episodes=0,
    )
    with pytest.raises(ConfigError, match=r"at step 400: PPO loss is nan"):
        train(config, tmp_path)
    checkpoints = sorted((tmp_path / "checkpoints").glob("*.pt"))
    assert checkpoints[-1].name == "step_000000000300.pt"
    state = torch.load(checkpoints[-1], weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["policy"].values())


def test_cli_train_writes_the_run_directory(capsys, tmp_path):
    main(
        [
            "train",
            "--algo",
            "ppo",
            "--env",
            "CartPole-v1",
            "--run-dir",
            str(tmp_path),
            "--quiet",
            "--total-steps",
            "512",
            "--eval-episodes",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert "eval_return_mean=" in out
    for name in ("config.json", "metrics.jsonl", "summary.json"):
        assert (tmp_path / name).exists()
    assert list(tmp_path.glob("events.out.tfevents*"))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {
        "eval_return_mean",
        "eval_return_std",
        "steps",
        "wall_seconds",
        "steps_per_second",
    } <= set(summary)
    # the machine and software a seed reproduces on
    machine = summary["machine"]
    assert machine["torch"] == torch.__version__ and machine["numpy"] == np.__version__
    assert machine["gymnasium"] == gym.__version__ and "simd" in machine
    assert all("step" in row for row in read_metrics(tmp_path))


def test_video_of_an_evaluation_episode(tmp_path, monkeypatch):
    pytest.importorskip("moviepy", reason="--video needs moviepy (in the dev extra)")
    monkeypatch.setenv("MUJOCO_GL", "egl")
    config = default_config(
        "ppo", "InvertedPendulum-v5", total_steps=64, n_steps=64, eval_episodes=1, video=True
    )
    summary = train(config, tmp_path)
    assert summary["videos"] and (tmp_path / summary["videos"][0]).stat().st_size > 1000


def test_async_envs_train_and_resume(tmp_path):
    config = default_config(
        "ppo",
        "CartPole-v1",
        num_envs=2,
        n_steps=32,
        total_steps=256,
        vectorization="async",
        checkpoint_every=2,
        eval_episodes=1,
    )
    started = []  # the step each run starts from, as a progress bar is told
    train(config, tmp_path, on_start=started.append)
    state = torch.load(sorted((tmp_path / "checkpoints").glob("*.pt"))[-1], weights_only=False)
    assert state["envs"] is None  # subprocess envs cannot be pickled: a resume restarts episodes
    assert train(config, tmp_path, resume=True, on_start=started.append)["steps"] == 256
    assert started == [0, 256]


def test_clips_that_show_the_ends_put_r_hat_through_the_return_scaling_by_default():
    """--absorbing: scale_returns and normalize_reward on (the learned alive bonus grows with
    every refit: benchmarks/preferences/four_algorithms), unless the run says otherwise."""

    def scaling(**settings) -> tuple[bool, bool]:
        config = default_config("a2c", "CartPole-v1", reward="preferences", **settings)
        config.validate()
        return config.preference_config.get("scale_returns", False), config.normalize_reward

    assert scaling(absorbing=True) == (True, True)
    assert scaling() == (False, False)  # clips without the ends: as before
    assert scaling(absorbing=True, scale_returns=False) == (False, False)
    assert scaling(absorbing=True, normalize_reward=False) == (False, False)
    assert scaling(absorbing=True, scale_returns=True, normalize_reward=True) == (True, True)
    assert not default_config("a2c", "CartPole-v1").normalize_reward  # true reward: untouched


def test_a_run_from_before_a_default_changed_continues_when_the_old_setting_is_named(tmp_path):
    """A run made before --absorbing turned the scaling on recorded no scale_returns (then a
    default). Today's default is refused, naming what differs; --no-scale-returns continues it,
    though it records scale_returns: False where the old run recorded nothing."""
    from rlhf_from_scratch.envs.train import comparable
    from rlhf_from_scratch.utils.rundir import RunDir

    def config(**settings) -> dict:
        settings = {"reward": "preferences", "labels": 100, "absorbing": True, **settings}
        return dataclasses.asdict(default_config("a2c", "CartPole-v1", **settings))

    before = config(scale_returns=False)
    del before["preference_config"]["scale_returns"]  # as that version wrote it
    RunDir(tmp_path, before, tensorboard=False).close()
    with pytest.raises(ConfigError, match="different run.*normalize_reward.*preference_config"):
        RunDir(tmp_path, config(), resume=True, tensorboard=False, canonical=comparable)
    with pytest.raises(ConfigError, match="different run"):  # compared as written: differ
        RunDir(tmp_path, config(scale_returns=False), resume=True, tensorboard=False)
    named = config(scale_returns=False)
    assert named["preference_config"]["scale_returns"] is False
    RunDir(tmp_path, named, resume=True, tensorboard=False, canonical=comparable).close()
    with pytest.raises(ConfigError, match="different run.*labels"):  # a real difference stays
        RunDir(tmp_path, config(scale_returns=False, labels=300), resume=True, canonical=comparable)


def test_a_run_continues_on_another_thread_count_or_checkpoint_interval(tmp_path):
    from rlhf_from_scratch.utils.rundir import RunDir

    def config(**settings) -> dict:
        return dataclasses.asdict(default_config("ppo", "CartPole-v1", **settings))

    RunDir(tmp_path, config(torch_threads=2), tensorboard=False).close()
    runtime = config(torch_threads=1, checkpoint_every=3, log_every=7)
    RunDir(tmp_path, runtime, resume=True, tensorboard=False).close()
    assert json.loads((tmp_path / "config.json").read_text())["torch_threads"] == 1
    with pytest.raises(ConfigError, match="different run.*seed"):  # what it learns: refused
        RunDir(tmp_path, config(seed=2, torch_threads=2), resume=True, tensorboard=False)


def test_plot_averages_runs_that_differ_only_in_the_seed(tmp_path, capsys):
    from rlhf_from_scratch.utils.plots import group_runs

    dirs = []
    for seed in (1, 2):
        config = default_config(
            "ppo",
            "CartPole-v1",
            seed=seed,
            num_envs=1,
            n_steps=64,
            total_steps=256,
            eval_episodes=0,
        )
        train(config, tmp_path / f"s{seed}")
        dirs.append(str(tmp_path / f"s{seed}"))
    assert list(group_runs(dirs).values()) == [[tmp_path / "s1", tmp_path / "s2"]]
    main(["plot", *dirs, "--out", str(tmp_path / "curves.png"), "--metric", "policy_loss"])
    assert (tmp_path / "curves.png").stat().st_size > 5000
    main(["plot", *dirs, "--out", str(tmp_path / "named.png"), "--names", "PPO, two seeds"])
    assert (tmp_path / "named.png").stat().st_size > 5000
    with pytest.raises(SystemExit):
        main(["plot", *dirs, "--out", str(tmp_path / "x.png"), "--names", "one", "two"])
    assert "2 names for 1 curve:" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_preference_runs_on_hopper_keep_termination_with_an_alive_bonus():
    recipe = default_config("ppo", "Hopper-v5", reward="preferences")
    assert recipe.fixed_length is False and recipe.preference_config["rm_target_mean"] == 9.0
    assert recipe.algo_config["ent_coef"] == 0.003  # PPO's own entry: recipe (C)
    for algo in ("trpo", "a2c", "reinforce"):  # the shared entry: bonus 6, no entropy bonus
        other = default_config(algo, "Hopper-v5", reward="preferences")
        assert other.fixed_length is False and other.preference_config["rm_target_mean"] == 6.0
        assert other.algo_config.get("ent_coef", 0.0) == 0.0
    family = default_config("ppo", "Hopper-v5", reward="preferences", family_defaults=True)
    assert family.fixed_length is None and "rm_target_mean" not in family.preference_config
    assert default_config("ppo", "Hopper-v5").preference_config == {}  # true reward: none


def test_ppo_on_walker2d_reads_the_observation_alone_at_a_hundredth_of_the_scale():
    walker = default_config("ppo", "Walker2d-v5", reward="preferences")
    assert walker.algo_config["ent_coef"] == 0.0
    # PPO's own entry: r_hat(o) at a hundredth of the scale (since session 42), the bonus still
    # 6 of its std
    assert walker.preference_config["rm_actions"] is False
    assert walker.preference_config["rm_target_std"] == 0.01
    assert walker.preference_config["rm_target_mean"] == 0.06
    assert walker.preference_config["query"] == "disagreement"  # since session 41
    own_query = default_config("ppo", "Walker2d-v5", reward="preferences", query="random")
    assert own_query.preference_config["query"] == "random"  # a run's own replaces the recipe's
    assert own_query.preference_config["rm_target_std"] == 0.01  # and keeps the rest of it
    walker_trpo = default_config("trpo", "Walker2d-v5", reward="preferences")
    assert walker_trpo.fixed_length is False
    assert walker_trpo.preference_config["rm_target_mean"] == 6.0
    assert walker_trpo.preference_config.get("rm_actions", True) is True  # r_hat(o, a)
    assert "rm_target_std" not in walker_trpo.preference_config  # the family's std 1
    assert walker_trpo.preference_config.get("query", "random") == "random"


def test_ppo_on_halfcheetah_reads_r_hat_at_a_tenth_of_its_scale_with_the_papers_l2():
    cheetah = default_config("ppo", "HalfCheetah-v5", reward="preferences")
    assert cheetah.fixed_length is None and "rm_target_mean" not in cheetah.preference_config
    assert cheetah.preference_config["rm_target_std"] == 0.1  # PPO's own entry: a tenth
    assert cheetah.preference_config["rm_adaptive_l2"] is True  # and the paper's L2 rule
    cheetah_trpo = default_config("trpo", "HalfCheetah-v5", reward="preferences")
    assert "rm_target_std" not in cheetah_trpo.preference_config  # no entry: std 1
    assert not cheetah_trpo.preference_config.get("rm_adaptive_l2", False)
    # the rule refits by epochs: with refits per label the recipe's rule must be turned off,
    # and the error says how
    per_label = dict(reward="preferences", rm_labels_per_step=0.1)
    with pytest.raises(ConfigError, match="add --no-rm-adaptive-l2"):
        default_config("ppo", "HalfCheetah-v5", **per_label).validate()
    default_config("ppo", "HalfCheetah-v5", rm_adaptive_l2=False, **per_label).validate()


def test_the_preference_recipe_applies_as_a_whole_unless_the_run_says_otherwise():
    scale = dict(rm_target_std=0.5)
    own_scale = default_config("ppo", "Walker2d-v5", reward="preferences", **scale)
    assert own_scale.preference_config["rm_target_std"] == 0.5 and own_scale.fixed_length is None
    assert "rm_target_mean" not in own_scale.preference_config
    assert own_scale.preference_config.get("rm_actions", True) is True
    for own in (dict(absorbing=True), dict(fixed_length=True), dict(rm_target_mean=2.0), scale):
        config = default_config("ppo", "Hopper-v5", reward="preferences", **own)
        assert config.preference_config.get("rm_target_mean", 0.0) == own.get("rm_target_mean", 0.0)
        assert config.fixed_length == own.get("fixed_length")
        assert config.algo_config["ent_coef"] == 0.0
    # a run's own entropy bonus replaces the recipe's and keeps the rest of it
    own_bonus = default_config("ppo", "Hopper-v5", reward="preferences", ent_coef=0.01)
    assert own_bonus.algo_config["ent_coef"] == 0.01
    assert own_bonus.preference_config["rm_target_mean"] == 9.0 and own_bonus.fixed_length is False
    # a bonus of its own keeps the recipe's termination only if the run says so: a bonus on
    # fixed-length episodes would change nothing, and is refused
    with pytest.raises(ConfigError, match="add --fixed-length false"):
        default_config("ppo", "Hopper-v5", reward="preferences", rm_target_mean=9.0).validate()
    own = default_config(
        "ppo", "Hopper-v5", reward="preferences", rm_target_mean=9.0, fixed_length=False
    )
    own.validate()
    assert own.preference_config["rm_target_mean"] == 9.0


def test_mujoco_preference_runs_refit_with_the_two_passes_the_benchmarks_measured():
    for algo, env in (("ppo", "Hopper-v5"), ("trpo", "HalfCheetah-v5"), ("a2c", "Walker2d-v5")):
        config = default_config(algo, env, reward="preferences")
        assert config.preference_config["rm_epochs"] == 2
        assert all_settings(config)["preference_config"]["rm_epochs"] == 2
    own = default_config("ppo", "Hopper-v5", reward="preferences", rm_epochs=8)
    assert own.preference_config["rm_epochs"] == 8
    # classic control keeps PreferenceConfig's 8 passes (CartPole's and Pendulum's results)
    classic = all_settings(default_config("ppo", "Pendulum-v1", reward="preferences"))
    assert classic["preference_config"]["rm_epochs"] == 8
    assert default_config("ppo", "HalfCheetah-v5").preference_config == {}  # true reward: none


def test_plot_names_the_settings_that_tell_two_configs_apart(tmp_path):
    from rlhf_from_scratch.utils.plots import group_runs

    def run_dir(name: str, **settings) -> str:
        config = default_config("ppo", "Hopper-v5", reward="preferences", **settings)
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
        return str(tmp_path / name)

    dirs = [run_dir("a", rm_target_mean=1.0), run_dir("b", rm_target_mean=3.0, lr=1e-4)]
    dirs.append(run_dir("c", rm_target_mean=1.0, seed=2))  # a second seed of "a"
    # lr alone tells the two configs apart: the other difference is counted, not named
    assert group_runs(dirs) == {
        "ppo Hopper-v5, 700 labels (random), lr=0.0003 (+1 more settings)": [
            tmp_path / "a",
            tmp_path / "c",
        ],
        "ppo Hopper-v5, 700 labels (random), lr=0.0001 (+1 more settings)": [tmp_path / "b"],
    }
    dirs.append(run_dir("d", rm_target_mean=6.0))  # same lr as "a": both settings are named
    labels = group_runs(dirs)
    assert set(labels) == {
        "ppo Hopper-v5, 700 labels (random), lr=0.0003, rm_target_mean=1.0",
        "ppo Hopper-v5, 700 labels (random), lr=0.0001, rm_target_mean=3.0",
        "ppo Hopper-v5, 700 labels (random), lr=0.0003, rm_target_mean=6.0",
    }
    # the oracle control says so in its own name, not as one more setting that differs
    oracle = [run_dir("e", rm_target_mean=1.0, oracle_reward=True)]
    assert list(group_runs(dirs[:1] + oracle)) == [
        "ppo Hopper-v5, 700 labels (random)",
        "ppo Hopper-v5, 700 labels (random), oracle reward",
    ]


def test_plot_names_the_curves_as_told_in_the_order_of_their_first_runs(tmp_path):
    """Groups in the order of each one's first run directory, also when two share a base
    label (a and c below) and another comes between them; --names replaces the labels in that
    order, and a count that does not match lists the curves to name."""
    from rlhf_from_scratch.utils.plots import group_runs, named_groups

    def run_dir(name: str, **settings) -> str:
        config = default_config("ppo", "CartPole-v1", **settings)
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
        return str(tmp_path / name)

    dirs = [
        run_dir("a", lr=1e-3),
        run_dir("b", reward="preferences", labels=100),
        run_dir("c", lr=1e-4),
        run_dir("d", lr=1e-3, seed=2),
    ]
    assert list(group_runs(dirs).values()) == [
        [tmp_path / "a", tmp_path / "d"],
        [tmp_path / "b"],
        [tmp_path / "c"],
    ]
    named = named_groups(dirs, ["fast", "labels", "slow"])
    assert named == {
        "fast": [tmp_path / "a", tmp_path / "d"],
        "labels": [tmp_path / "b"],
        "slow": [tmp_path / "c"],
    }
    assert named_groups(dirs) == group_runs(dirs)
    with pytest.raises(ConfigError, match=r"2 names for 3 curves.*2\. ppo CartPole-v1, 100 lab"):
        named_groups(dirs, ["fast", "slow"])
    with pytest.raises(ConfigError, match="must differ: 'fast' given twice"):
        named_groups(dirs, ["fast", "labels", "fast"])  # one curve would be lost


def test_plot_takes_bookkeeping_and_fields_a_run_predates_as_the_same_settings(tmp_path):
    from rlhf_from_scratch.utils.plots import group_runs

    base = dataclasses.asdict(default_config("ppo", "Hopper-v5", reward="preferences"))

    def run_dir(name: str, config: dict) -> str:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
        return str(tmp_path / name)

    older = {k: v for k, v in base.items() if k not in ("fall_penalty", "log_every")}
    no_bonus = {**base, "preference_config": {**base["preference_config"]}}
    del no_bonus["preference_config"]["rm_target_mean"]  # nested: missing means the default
    dirs = [
        run_dir("a", base),
        run_dir("b", {**base, "seed": 2, "checkpoint_every": 4000}),  # bookkeeping only
        run_dir("c", {**older, "seed": 3}),  # made before fall_penalty and log_every existed
        run_dir("d", no_bonus),
    ]
    groups = list(group_runs(dirs).values())
    assert groups == [[tmp_path / "a", tmp_path / "b", tmp_path / "c"], [tmp_path / "d"]]


def test_plot_labels_name_the_setting_that_differs_not_a_field_a_run_predates(tmp_path):
    from rlhf_from_scratch.utils.plots import group_runs

    base = dataclasses.asdict(default_config("ppo", "Hopper-v5", reward="preferences"))
    older = {k: v for k, v in base.items() if k != "compile"}  # before the field existed
    scaled = {**base, "preference_config": {**base["preference_config"], "scale_returns": True}}
    for name, config in (("old", older), ("scaled", scaled)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
    labels = group_runs([tmp_path / "old", tmp_path / "scaled"])
    assert set(labels) == {
        "ppo Hopper-v5, 700 labels (random), scale_returns=default",
        "ppo Hopper-v5, 700 labels (random), scale_returns=True",
    }


def test_rlhf_plot_draws_a_setting_named_at_its_default_with_runs_that_left_it_out(
    tmp_path, monkeypatch
):
    """Seeds of one setting, one of which named --no-scale-returns (recorded) while the other
    predates the field in preference_config: one curve, as a resume compares them."""
    from rlhf_from_scratch.envs.train import comparable
    from rlhf_from_scratch.utils import plots
    from rlhf_from_scratch.utils.plots import group_runs

    named = dataclasses.asdict(
        default_config("ppo", "CartPole-v1", reward="preferences", scale_returns=False)
    )
    older = {**named, "seed": 2, "preference_config": {}}
    for name, config in (("named", named), ("older", older)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
    dirs = [tmp_path / "named", tmp_path / "older"]
    assert named["preference_config"] == {"scale_returns": False}
    assert len(group_runs(dirs)) == 2  # compared as written
    assert list(group_runs(dirs, canonical=comparable).values()) == [dirs]
    drawn = []  # the curves rlhf plot draws
    spy = lambda *args: drawn.append(group_runs(*args)) or drawn[-1]  # noqa: E731
    monkeypatch.setattr(plots, "group_runs", spy)
    main(["plot", *map(str, dirs), "--out", str(tmp_path / "c.png")])
    assert list(drawn[0].values()) == [dirs]


def test_mujoco_ppo_compiles_its_loss_by_default_and_only_ppo_can():
    config = default_config("ppo", "Hopper-v5")
    assert config.compile and "compile" not in config.algo_config  # how, not what: top level
    assert not default_config("ppo", "CartPole-v1").compile
    envs, _, algo, _, _ = build(config)
    envs.close()
    assert algo.compiled_loss is not algo.loss
    with pytest.raises(ConfigError, match="--compile applies to PPO, not to a2c"):
        build(default_config("a2c", "CartPole-v1", compile=True))
