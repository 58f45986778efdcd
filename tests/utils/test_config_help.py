"""Flag help taken from the dataclasses the flags set (utils.config_help)."""

import argparse
import re
from dataclasses import dataclass

import pytest

from rlhf_from_scratch.cli import main
from rlhf_from_scratch.lm.rlhf import RLHFConfig
from rlhf_from_scratch.preferences.loop import PreferenceConfig
from rlhf_from_scratch.utils.config_help import describe_flags, field_notes


@dataclass
class _Commented:
    plain: int = 1
    trailing: float = 0.5  # said on its own line
    wrapped: int = 2  # begun here
    # and carried on here (comment lines after a field's own comment continue it)
    uncommented: int = 4
    # a comment above the field it is about
    above: bool = False

    between: str = "x"  # a blank line above: nothing from the earlier comments

    def method(self) -> None:
        note: int = 3  # inside a method, not a field
        del note


def test_field_notes_read_both_comment_styles_and_nothing_else():
    assert field_notes(_Commented) == {
        "trailing": "said on its own line",
        "wrapped": "begun here and carried on here (comment lines after a field's own comment "
        "continue it)",
        "above": "a comment above the field it is about",
        "between": "a blank line above: nothing from the earlier comments",
    }


def test_each_preference_flag_gets_its_own_comment():
    # a comment above a field that follows a field with a comment of its own continues that
    # one: --rm-weight-decay once carried the adaptive rule's text and --rm-target-std the bonus's
    notes = field_notes(PreferenceConfig)
    assert "1.5x" in notes["rm_adaptive_l2"] and "1.5x" not in notes["rm_weight_decay"]
    assert notes["rm_target_std"] == "r_hat normalised to this std on recent clips"
    assert notes["rm_target_mean"].startswith("an alive bonus")
    assert notes["absorbing"].startswith("clips may run past an episode's end")


def _help_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    return {a.dest: a.help for a in parser._actions if a.option_strings}


def test_describe_flags_adds_comment_and_default_where_the_flag_says_neither():
    @dataclass
    class Settings:
        rate: float = 0.3  # how fast; 5% is slow
        budget: int | None = None  # None: decided at run time
        named: int = 7
        quiet: bool = False  # no output
        said: int = 2

    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float)
    parser.add_argument("--budget", type=int)
    parser.add_argument("--named", type=int, help="a count")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--said", type=int, help="already told (default 2)")
    parser.add_argument("--other", help="not a field")
    describe_flags(parser, Settings)
    assert _help_of(parser) == {
        "help": "show this help message and exit",
        "rate": "how fast; 5%% is slow; default: 0.3",  # argparse reads %% as %
        "budget": "None: decided at run time",  # no default to give before the run
        "named": "a count; default: 7",
        "quiet": "no output",  # an on/off flag: no default
        "said": "already told (default 2)",
        "other": "not a field",
    }
    parser.format_help()  # the escaped % formats


def test_the_lm_commands_help_gives_the_config_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["lm", "rlhf", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"--kl-coef KL_COEF beta (initial when adaptive); default: {RLHFConfig.kl_coef}" in text
    assert (
        f"--updates UPDATES rounds of sample, score, optimise; default: {RLHFConfig.updates}"
        in text
    )
    # --steps sets `updates` (cmd_rlhf): the help says so, with that field's default
    assert (
        f"--steps STEPS the same as --updates (sets updates); default: {RLHFConfig.updates}" in text
    )


def test_a_flag_may_describe_a_field_of_another_name():
    @dataclass
    class Settings:
        rankings_per_batch: int = 8  # rankings in a batch

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=None)
    describe_flags(parser, Settings, {"batch_size": "rankings_per_batch"})
    assert (
        _help_of(parser)["batch_size"]
        == "rankings in a batch (sets rankings_per_batch); default: 8"
    )


def _flags(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, flag, help) of every flag of `parser` and of its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _flags(sub, (*path, name))
        elif action.option_strings and action.dest != "help":
            yield " ".join(path), action.option_strings[-1], action.help or ""


def test_every_flag_says_what_it_does():
    # a default alone (or "sets FIELD") says nothing of what the flag is for; a comment put
    # above a field that follows a commented field also ends here, as the field's help is empty
    from rlhf_from_scratch.cli import build_parser

    silent = []
    for command, flag, text in _flags(build_parser()):
        said = re.sub(r"(^|; )default: .*$|\(sets \w+\)|^sets \w+", "", text).strip(" ;")
        if not said:
            silent.append(f"{command} {flag}")
    assert not silent, f"flags with no help text: {', '.join(silent)}"
