"""`rlhf lm pretrain / sft / sample` end to end at a tiny size, resume, and bad input."""

import json

import pytest
import torch

from rlhf_from_scratch.cli import main
from rlhf_from_scratch.lm.checkpoint import check_compatible, load_model, load_state
from rlhf_from_scratch.lm.model import GPTConfig
from rlhf_from_scratch.lm.tokenizer import Tokenizer
from rlhf_from_scratch.utils.errors import ConfigError

PRETRAIN = [
    "lm",
    "pretrain",
    "--config",
    "tiny",
    "--num-docs",
    "300",
    "--steps",
    "6",
    "--eval-every",
    "3",
    "--checkpoint-every",
    "3",
    "--device",
    "cpu",
    "--no-progress",
]


def fails_with(argv, capsys, message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "pre"
    torch.set_num_threads(1)
    main([*PRETRAIN, "--run-dir", str(run)])
    return run


def test_pretrain_writes_a_complete_run_directory(pretrained):
    summary = json.loads((pretrained / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["val_loss"] > 0 and summary["entropy_rate"] > 0
    assert 0 <= summary["sample_fluency"] <= 1
    config = json.loads((pretrained / "config.json").read_text())
    assert config["config"] == "tiny" and config["steps"] == 6
    rows = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert "val_loss" in rows[2] and "train_loss" in rows[0]
    state = load_state(pretrained)
    assert state["step"] == 6 and state["tokenizer"]["kind"] == "char"


def test_a_killed_run_resumes_to_the_same_weights(pretrained, tmp_path, capsys):
    run = tmp_path / "pre"
    main([*PRETRAIN, "--run-dir", str(run)])
    # Simulate a kill after step 3: the last checkpoint and the summary are gone.
    (run / "checkpoints" / f"step_{6:012d}.pt").unlink()
    (run / "summary.json").unlink()
    fails_with([*PRETRAIN, "--run-dir", str(run)], capsys, "--resume")
    main([*PRETRAIN, "--run-dir", str(run), "--resume"])
    resumed, reference = load_state(run), load_state(pretrained)
    for k, v in reference["model"].items():
        torch.testing.assert_close(resumed["model"][k], v, msg=k)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_sft_then_sample(pretrained, tmp_path, capsys):
    run = tmp_path / "sft"
    main(
        [
            "lm",
            "sft",
            "--init",
            str(pretrained),
            "--run-dir",
            str(run),
            "--steps",
            "4",
            "--num-demos",
            "200",
            "--num-eval-prompts",
            "4",
            "--eval-every",
            "2",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    summary = json.loads((run / "summary.json").read_text())
    assert {"gold_instruction", "gold_grammar", "val_loss"} <= set(summary["after_sft"])
    assert load_state(run)["kind"] == "sft"
    capsys.readouterr()
    main(
        [
            "lm",
            "sample",
            "--checkpoint",
            str(run),
            "--prompt",
            "Write a positive review of the bakery.",
            "--max-new-tokens",
            "20",
            "--num-samples",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert out.count("--- ") == 2 and "instruction" in out and "sentiment" in out


def test_bad_input_is_one_plain_sentence(pretrained, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    fails_with(
        [*PRETRAIN, "--run-dir", str(tmp_path / "a"), "--corpus", str(empty)], capsys, "is empty"
    )
    short = tmp_path / "short.txt"
    short.write_text("Too short to fill one context window.")
    fails_with(
        [*PRETRAIN, "--run-dir", str(tmp_path / "s"), "--corpus", str(short)], capsys, "too few"
    )
    fails_with(
        [*PRETRAIN, "--run-dir", str(tmp_path / "b"), "--tokenizer", "bytes"],
        capsys,
        "did you mean 'byte'",
    )
    fails_with(
        [
            "lm",
            "sft",
            "--init",
            str(pretrained),
            "--tokenizer",
            "byte",
            "--run-dir",
            str(tmp_path / "c"),
            "--device",
            "cpu",
        ],
        capsys,
        "'char' tokenizer",
    )
    fails_with(
        ["lm", "sample", "--checkpoint", str(pretrained), "--prompt", "x" * 300],
        capsys,
        "longer than the model's context",
    )
    fails_with(
        ["lm", "sample", "--checkpoint", str(tmp_path / "nothing")], capsys, "does not exist"
    )
    fails_with(
        ["lm", "sample", "--checkpoint", str(pretrained), "--prompts-file", str(tmp_path / "no")],
        capsys,
        "prompts file",
    )


def test_a_checkpoint_from_another_architecture_or_tokenizer_is_refused(pretrained):
    model, tokenizer, state = load_model(pretrained)
    check_compatible(state, model.config, tokenizer, "it")  # itself: fine
    bigger = GPTConfig(**{**state["model_config"], "n_layer": 3})
    with pytest.raises(ConfigError, match="another architecture.*n_layer=2 there vs 3 here"):
        check_compatible(state, bigger, tokenizer, "the checkpoint")
    with pytest.raises(ConfigError, match="'char' tokenizer"):
        check_compatible(state, model.config, Tokenizer("byte"), "the checkpoint")


def test_pretrain_on_a_text_file(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat. " * 80)
    run = tmp_path / "txt"
    main(
        [
            "lm",
            "pretrain",
            "--config",
            "tiny",
            "--corpus",
            str(corpus),
            "--steps",
            "3",
            "--eval-every",
            "3",
            "--run-dir",
            str(run),
            "--device",
            "cpu",
            "--no-progress",
            "--tokenizer",
            "byte",
        ]
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["entropy_rate"] is None and summary["val_loss"] > 0
