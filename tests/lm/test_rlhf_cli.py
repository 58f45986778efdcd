"""`rlhf lm rm`, `rlhf lm rlhf --algo ...` and `rlhf demo` end to end at a tiny size; resume;
and the bad input of the issue, each a one-line error."""

import json
import math
from functools import partial

import pytest
import torch

from rlhf_from_scratch.cli import main
from rlhf_from_scratch.lm.checkpoint import load_state
from rlhf_from_scratch.lm.tokenizer import Tokenizer

TINY = ["--device", "cpu", "--no-progress"]


def fails_with(argv, capsys, message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """A tiny pretrained, fine-tuned GPT and a reward model trained on its ranked samples."""
    root = tmp_path_factory.mktemp("rlhf")
    torch.set_num_threads(1)
    main(
        [
            "lm",
            "pretrain",
            "--config",
            "tiny",
            "--num-docs",
            "300",
            "--steps",
            "20",
            "--eval-every",
            "20",
            "--checkpoint-every",
            "20",
            "--run-dir",
            str(root / "pre"),
            *TINY,
        ]
    )
    main(
        [
            "lm",
            "sft",
            "--init",
            str(root / "pre"),
            "--steps",
            "10",
            "--eval-every",
            "10",
            "--checkpoint-every",
            "10",
            "--num-eval-prompts",
            "4",
            "--run-dir",
            str(root / "sft"),
            *TINY,
        ]
    )
    main(["lm", "rm", "--policy", str(root / "sft"), "--num-prompts", "12", "--k", "3",
          "--max-new-tokens", "24", "--epochs", "1", "--gold", "sentiment",
          "--run-dir", str(root / "rm"), *TINY])  # fmt: skip
    return root


def rlhf_args(stages, run_dir, *extra):
    return ["lm", "rlhf", "--policy", str(stages / "sft"), "--reward-model", str(stages / "rm"),
            "--updates", "2", "--prompts-per-update", "2", "--samples-per-prompt", "2",
            "--max-new-tokens", "16", "--num-eval-prompts", "3", "--eval-every", "1",
            "--checkpoint-every", "1", "--run-dir", str(run_dir), *TINY, *extra]  # fmt: skip


def test_reward_model_run_directory(stages):
    summary = json.loads((stages / "rm" / "summary.json").read_text())
    assert summary["rankings"] == 12 and summary["comparisons"] == 12 * 3 and summary["k"] == 3
    accuracy = summary["held_out_accuracy"]
    assert accuracy != accuracy or 0 <= accuracy <= 1  # nan when every held-out pair is a tie
    state = load_state(stages / "rm")
    assert state["kind"] == "reward_model" and state["model_config"]["scalar_head"] == "reward"
    assert (stages / "rm" / "preferences.sqlite").exists()


@pytest.mark.parametrize("algo", ["ppo", "reinforce", "a2c", "trpo"])
def test_rlhf_runs_every_algorithm_by_one_flag(stages, tmp_path, capsys, algo):
    main(rlhf_args(stages, tmp_path / algo, "--algo", algo))
    summary = json.loads((tmp_path / algo / "summary.json").read_text())
    assert summary["algo"] == algo and summary["updates"] == 2
    for key in ("gold_reward", "rm_score", "kl", "grammar", "repetition"):
        assert key in summary["after"]
    rows = [json.loads(x) for x in (tmp_path / algo / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2] and "beta" in rows[1] and "kl" in rows[1]
    assert "gold reward" in capsys.readouterr().out


def test_ppo_ptx_and_adaptive_kl(stages, tmp_path):
    main(rlhf_args(stages, tmp_path / "ptx", "--ptx-coef", "1.0", "--kl-target", "0.5"))
    rows = [json.loads(x) for x in (tmp_path / "ptx" / "metrics.jsonl").read_text().splitlines()]
    assert rows[1]["extra_loss"] > 0  # gamma * cross-entropy of pretraining text
    assert rows[2]["beta"] != rows[1]["beta"]  # the controller moved beta


def assert_killed_run_resumes_to_the_same_weights(args, tmp_path, steps: int) -> dict:
    """Run args(run_dir) whole, and again killed before its last checkpoint (the summary and
    that checkpoint removed) then --resume'd: the weights must be equal. Returns the state."""
    main(args(tmp_path / "full"))
    main(args(tmp_path / "cut"))
    cut = tmp_path / "cut"
    (cut / "summary.json").unlink()
    max(cut.glob("checkpoints/step_*.pt")).unlink()
    main([*args(cut), "--resume"])
    a, b = load_state(tmp_path / "full"), load_state(cut)
    assert a["step"] == b["step"] == steps
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    return a


def test_a_killed_rlhf_run_resumes_to_the_same_weights(stages, tmp_path):
    assert_killed_run_resumes_to_the_same_weights(partial(rlhf_args, stages), tmp_path, 2)


def test_sampling_an_rlhf_policy_formats_the_prompt(stages, tmp_path, capsys):
    main(rlhf_args(stages, tmp_path / "s"))
    main(["lm", "sample", "--checkpoint", str(tmp_path / "s"), "--max-new-tokens", "8"])
    assert "Instruction: Write a positive review" in capsys.readouterr().out


# ---- DPO and best-of-n on the same comparisons and reward model --------------------------------
def dpo_args(stages, run_dir, *extra):
    return ["lm", "dpo", "--policy", str(stages / "sft"), "--preferences", str(stages / "rm"),
            "--epochs", "2", "--batch-size", "4", "--max-new-tokens", "16",
            "--num-eval-prompts", "3", "--eval-every", "2", "--checkpoint-every", "2",
            "--run-dir", str(run_dir), *TINY, *extra]  # fmt: skip


def test_dpo_trains_on_the_reward_models_comparisons(stages, tmp_path, capsys):
    main(dpo_args(stages, tmp_path / "dpo"))
    summary = json.loads((tmp_path / "dpo" / "summary.json").read_text())
    rm = json.loads((stages / "rm" / "summary.json").read_text())
    # the reward model's split: its training rankings, K choose 2 = 3 pairs each
    assert summary["rankings"] == rm["rankings"] - rm["held_out_rankings"]
    assert summary["comparisons"] == 3 * summary["rankings"] and summary["steps"] == 2 * 3
    for key in ("gold_reward", "rm_score", "kl", "grammar", "held_out_accuracy"):
        assert key in summary["before"] and key in summary["after"]
    assert summary["before"]["kl"] == pytest.approx(0.0, abs=1e-4)  # pi = pi_ref at the start
    rows = [json.loads(x) for x in (tmp_path / "dpo" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(7))
    assert rows[1]["train_loss"] == pytest.approx(math.log(2), abs=1e-4)  # first step: pi = pi_ref
    assert load_state(tmp_path / "dpo")["kind"] == "dpo"
    assert "implicit reward" in capsys.readouterr().out
    main(["lm", "sample", "--checkpoint", str(tmp_path / "dpo"), "--max-new-tokens", "8"])
    assert "Instruction: Write a positive review" in capsys.readouterr().out


def test_a_killed_dpo_run_resumes_to_the_same_weights(stages, tmp_path):
    assert_killed_run_resumes_to_the_same_weights(partial(dpo_args, stages), tmp_path, 6)


def test_best_of_n_reports_every_power_of_two(stages, tmp_path, capsys):
    run = tmp_path / "bon"
    main(["lm", "best-of-n", "--policy", str(stages / "sft"), "--reward-model",
          str(stages / "rm"), "--n", "4", "--num-eval-prompts", "3", "--max-new-tokens", "12",
          "--run-dir", str(run), "--device", "cpu", "--no-progress"])  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    rows = summary["rows"]
    assert [r["n"] for r in rows] == [1, 2, 4] and summary["generations"] == 12
    assert rows[0]["kl_bound"] == 0.0 and rows[2]["kl_bound"] == pytest.approx(math.log(4) - 0.75)
    # the kept sample of n is the best of n: the RM score never falls as n grows
    assert rows[0]["rm_score"] <= rows[1]["rm_score"] <= rows[2]["rm_score"]
    assert (run / "best_of_n.png").stat().st_size > 1000
    assert "KL (nats)" in capsys.readouterr().out


def ei_args(stages, run_dir, *extra):
    return ["lm", "expert-iteration", "--policy", str(stages / "sft"), "--reward-model",
            str(stages / "rm"), "--rounds", "2", "--prompts-per-round", "3", "--n", "2",
            "--epochs", "1", "--batch-size", "2", "--max-new-tokens", "12",
            "--num-eval-prompts", "3", "--run-dir", str(run_dir), *TINY, *extra]  # fmt: skip


def test_expert_iteration_keeps_the_best_of_n_and_resumes_by_round(stages, tmp_path, capsys):
    state = assert_killed_run_resumes_to_the_same_weights(partial(ei_args, stages), tmp_path, 2)
    assert state["kind"] == "expert_iteration"  # and a killed run restarts its round
    rows = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    for row in rows[1:]:  # the kept response is the RM's best: never below the samples' mean
        assert row["kept_rm_score"] >= row["sampled_rm_score"] - 1e-6
        assert "eval_kl" in row and "eval_gold_reward" in row
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["rounds"] == 2 and summary["generations"] == 2 * 3 * 2
    assert "expert iteration: 2 rounds" in capsys.readouterr().out


def test_ai_labels_make_a_reward_model_that_dpo_and_rl_can_use(stages, tmp_path, capsys):
    rm = tmp_path / "rm-ai"
    main(["lm", "rm", "--policy", str(stages / "sft"), "--labeler", "ai", "--judge",
          str(stages / "pre"), "--num-prompts", "12", "--k", "3", "--max-new-tokens", "24",
          "--epochs", "1", "--run-dir", str(rm), *TINY])  # fmt: skip
    summary = json.loads((rm / "summary.json").read_text())
    assert summary["labeler"] == "ai" and summary["store_task"] == "lm-text:ai:sentiment"
    agreed = summary["labeler_agreement_with_gold"]
    assert agreed != agreed or 0 <= agreed <= 1  # nan when the tiny model's gold scores all tie
    assert "held_out_accuracy_vs_gold" in summary
    assert "vs the AI labeler" in capsys.readouterr().out
    main(dpo_args(stages, tmp_path / "dpo-ai")[:4] + ["--preferences", str(rm)]
         + dpo_args(stages, tmp_path / "dpo-ai")[6:])  # fmt: skip
    assert json.loads((tmp_path / "dpo-ai" / "summary.json").read_text())["comparisons"] > 0
    argv = rlhf_args(stages, tmp_path / "rlaif")
    argv[argv.index("--reward-model") + 1] = str(rm)
    main(argv)
    assert json.loads((tmp_path / "rlaif" / "summary.json").read_text())["gold"] == "sentiment"


def test_direct_rlaif_needs_no_reward_model(stages, tmp_path, capsys):
    argv = rlhf_args(stages, tmp_path / "direct")
    at = argv.index("--reward-model")
    argv[at : at + 2] = ["--ai-judge", str(stages / "pre")]
    main(argv)
    summary = json.loads((tmp_path / "direct" / "summary.json").read_text())
    assert summary["updates"] == 2 and summary["gold"] == "sentiment"
    both = rlhf_args(stages, tmp_path / "both", "--ai-judge", str(stages / "pre"))
    fails_with(both, capsys, "not both")


def test_ai_labels_need_a_judge(stages, tmp_path, capsys):
    base = ["lm", "rm", "--policy", str(stages / "sft"), "--run-dir", str(tmp_path / "x"), *TINY]
    fails_with([*base, "--labeler", "ai"], capsys, "--labeler ai needs --judge")
    fails_with([*base, "--labeler", "robot"], capsys, "--labeler must be 'gold' or 'ai'")


def test_dpo_bad_input_is_refused(stages, tmp_path, capsys):
    fails_with(dpo_args(stages, tmp_path / "x", "--beta", "0"), capsys, "--beta must be > 0")
    argv = dpo_args(stages, tmp_path / "y")
    argv[argv.index("--preferences") + 1] = str(stages / "sft")  # a policy, not an RM run
    fails_with(argv, capsys, "holds no preference store")
    fails_with(dpo_args(stages, tmp_path / "z", "--steps", "5"), capsys, "makes --epochs passes")


# ---- bad input ----------------------------------------------------------------------------------
def test_negative_beta_is_refused(stages, tmp_path, capsys):
    fails_with(rlhf_args(stages, tmp_path / "x", "--kl-coef", "-0.1"), capsys,
               "--kl-coef (beta) must be >= 0")  # fmt: skip


def test_k_below_two_is_refused(stages, tmp_path, capsys):
    fails_with(["lm", "rm", "--policy", str(stages / "sft"), "--k", "1",
                "--run-dir", str(tmp_path / "x"), *TINY], capsys, "--k must be >= 2")  # fmt: skip


def test_no_prompts_is_refused(stages, tmp_path, capsys):
    empty = tmp_path / "prompts.txt"
    empty.write_text("\n  \n")
    fails_with(rlhf_args(stages, tmp_path / "x", "--prompts-file", str(empty)), capsys,
               "holds no prompts")  # fmt: skip
    fails_with(rlhf_args(stages, tmp_path / "y", "--num-prompts", "0"), capsys,
               "RLHF needs prompts")  # fmt: skip


def test_reward_model_with_another_tokenizer_is_refused(stages, tmp_path, capsys):
    state = load_state(stages / "rm")
    state["tokenizer"] = Tokenizer("byte").identity()
    torch.save(state, tmp_path / "rm_byte.pt")
    argv = rlhf_args(stages, tmp_path / "x")
    argv[argv.index("--reward-model") + 1] = str(tmp_path / "rm_byte.pt")
    fails_with(argv, capsys, "was made with the 'byte' tokenizer")


def test_policy_checkpoint_as_reward_model_is_refused(stages, tmp_path, capsys):
    argv = rlhf_args(stages, tmp_path / "x")
    argv[argv.index("--reward-model") + 1] = str(stages / "sft")
    fails_with(argv, capsys, "is a sft checkpoint, not a reward model")
    argv = rlhf_args(stages, tmp_path / "y")
    argv[argv.index("--policy") + 1] = str(stages / "rm")
    fails_with(argv, capsys, "is a reward model, not a policy")


def test_ptx_needs_ppo(stages, tmp_path, capsys):
    fails_with(rlhf_args(stages, tmp_path / "x", "--algo", "a2c", "--ptx-coef", "1"), capsys,
               "needs --algo ppo")  # fmt: skip


# ---- the demo -----------------------------------------------------------------------------------
def test_demo_runs_end_to_end_in_a_smoke_size(tmp_path, capsys):
    run = tmp_path / "demo"
    main(["demo", "--size", "smoke", "--run-dir", str(run), "--hacking", "--compare", *TINY])
    out = capsys.readouterr().out
    assert "gold reward" in out and "KL to SFT" in out and "grammaticality" in out
    summary = json.loads((run / "summary.json").read_text())
    for key in ("gold_reward", "kl", "grammar"):
        assert key in summary["before"] and key in summary["after"]
    assert "beta0_after" in summary and 0 <= summary["after"]["win_rate"] <= 1
    assert set(summary["compared"]) == {"DPO", "best-of-4", "expert iteration"}
    for row in summary["compared"].values():
        assert 0 <= row["win_rate"] <= 1 and "kl" in row and "gold_reward" in row
    assert "expert iteration: gold_reward" in out
    report = (run / "report.md").read_text()
    assert "rlhf_curves.png" in report and "## Samples" in report
    assert (run / "rlhf_curves.png").stat().st_size > 1000
    assert "| best-of-4 |" in report and "win_rate" in report
    for stage in ("pretrain", "sft", "rm", "rlhf", "rlhf-beta0", "dpo", "best-of-n",
                  "expert-iteration"):  # fmt: skip
        assert (run / stage / "summary.json").exists()
    # a finished demo resumed reruns no stage and writes the same numbers
    main(["demo", "--size", "smoke", "--run-dir", str(run), "--hacking", "--compare", "--resume",
          *TINY])  # fmt: skip
    again = json.loads((run / "summary.json").read_text())
    assert again["after"] == summary["after"]
