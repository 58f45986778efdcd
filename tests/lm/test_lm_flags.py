"""Every number flag of the `rlhf lm` commands and of `rlhf demo` reaches the config it is
for, or stops the command with a message saying what to use instead: none is taken and
quietly ignored."""

import argparse

import pytest

from rlhf_from_scratch.cli import build_parser
from rlhf_from_scratch.lm import cli as lm_cli
from rlhf_from_scratch.lm import demo as lm_demo
from rlhf_from_scratch.utils.errors import ConfigError

# what each command needs to get as far as its config
REQUIRED = {
    "pretrain": [],
    "sft": ["--init", "pre"],
    "rm": ["--policy", "sft"],
    "rlhf": ["--policy", "sft", "--reward-model", "rm"],
    "dpo": ["--policy", "sft", "--preferences", "rm"],
    "expert-iteration": ["--policy", "sft", "--reward-model", "rm"],
    "best-of-n": ["--policy", "sft", "--reward-model", "rm"],
}
NOT_CONFIG = {"threads"}  # sets torch's thread count, not a field


class _Reached(Exception):
    def __init__(self, cfg):
        self.cfg = cfg


def _stop_stage(args, command, cfg, *rest):  # lm.cli._run_stage's place
    raise _Reached(cfg)


def _stop_demo(cfg, *rest):  # lm.demo.demo's place
    raise _Reached(cfg)


def _number_flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.option_strings and a.type in (int, float) and a.dest not in NOT_CONFIG
    ]


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _cases():
    parser = build_parser()
    for command, required in REQUIRED.items():
        for action in _number_flags(_subparser(parser, "lm", command)):
            argv = ["lm", command, *required]
            yield pytest.param(argv, action, id=f"{command} {action.option_strings[-1]}")
    for action in _number_flags(_subparser(parser, "demo")):
        yield pytest.param(["demo"], action, id=f"demo {action.option_strings[-1]}")


@pytest.mark.parametrize("argv,action", list(_cases()))
def test_a_number_flag_sets_its_field_or_is_refused(argv, action, monkeypatch, tmp_path):
    monkeypatch.setattr(lm_cli, "_run_stage", _stop_stage)
    monkeypatch.setattr(lm_demo, "demo", _stop_demo)
    value = 4 if action.type is int else 0.25  # a power of two (best-of-n's n), a fraction
    flag = action.option_strings[-1]
    args = build_parser().parse_args(
        [*argv, "--run-dir", str(tmp_path / "run"), flag, str(value), "--device", "cpu"]
    )
    try:
        args.func(args)
    except ConfigError as error:  # refused: the message names the flag
        assert flag in str(error)
        return
    except _Reached as reached:
        command = argv[1] if argv[0] == "lm" else argv[0]
        field = lm_cli.FLAG_FIELDS.get(command, {}).get(action.dest, action.dest)
        got = getattr(reached.cfg, field, "no such field")
        assert got == value, f"{flag} {value} was ignored: the config's {field} is {got}"
        return
    pytest.fail(f"{' '.join(argv[:2])} {flag} neither reached its config nor was refused")
