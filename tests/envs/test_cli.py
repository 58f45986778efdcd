"""`rlhf train --help` and `--show-config`: what a student reads before starting a run."""

import json

import pytest

from rlhf_from_scratch.cli import main


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_help_gives_what_a_flag_does_and_no_single_algorithms_default_for_a_shared_flag(capsys):
    text = _help(capsys)
    # --ent-coef is 0.01 in A2C's dataclass and 0.0 in PPO's MuJoCo preset: no one number is right
    assert "--ent-coef ENT_COEF trpo: an entropy bonus in the surrogate" in text
    assert "ppo: c2; default: per algorithm and env (--show-config prints it)" in text
    assert "--seed SEED seeds the networks, the envs and the sampling; default: 1 " in text
    assert "--labels LABELS the total label budget; default: 700" in text
    assert "67% of RL" in text  # a % in a comment survives argparse's formatting


def _show(capsys, *args) -> dict:
    main(["train", "--show-config", *args])
    return json.loads(capsys.readouterr().out)


def test_show_config_prints_the_per_env_recipe_and_writes_nothing(capsys, tmp_path):
    settings = _show(
        capsys, "--env", "Hopper-v5", "--reward", "preferences", "--run-dir", str(tmp_path / "r")
    )
    assert not (tmp_path / "r").exists()
    assert settings["fixed_length"] is False  # Hopper's preference recipe
    assert settings["preference_config"]["rm_target_mean"] == 9.0
    assert settings["preference_config"]["segment_steps"] == 188  # 1.5 s at dt 0.008
    assert settings["algo_config"]["ent_coef"] == 0.003  # the recipe's for PPO
    a2c = _show(capsys, "--algo", "a2c", "--env", "Hopper-v5", "--reward", "preferences")
    assert a2c["algo_config"]["ent_coef"] == 0.0  # the MuJoCo preset, not A2C's 0.01
    assert a2c["preference_config"]["rm_target_mean"] == 6.0
    assert settings["algo_config"]["compile"] is True
    assert _show(capsys, "--env", "Hopper-v5")["preference_config"] == {}


def test_show_config_predicts_the_settings_a_run_writes(capsys, tmp_path):
    args = ["--algo", "a2c", "--env", "CartPole-v1", "--total-steps", "200", "--eval-episodes", "0"]
    settings = _show(capsys, *args, "--lr", "1e-3")
    main(["train", *args, "--lr", "1e-3", "--quiet", "--run-dir", str(tmp_path)])
    written = json.loads((tmp_path / "config.json").read_text())
    for key, value in written.items():
        if key == "algo_config":
            assert value.items() <= settings["algo_config"].items()
        elif key == "fixed_length":  # None in config.json: left to the env family, shown resolved
            assert value is None and settings[key] is False
        else:
            assert settings[key] == value, key
    assert settings["algo_config"]["lr"] == 1e-3 and settings["algo_config"]["ent_coef"] == 0.0


def test_show_config_refuses_what_a_run_would_refuse(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--show-config", "--reward", "preferences", "--labels", "0"])
    assert exit_info.value.code == 2
    assert "the label budget must be > 0" in capsys.readouterr().err
