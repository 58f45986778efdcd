"""The `rlhf` command line (also `python -m rlhf_from_scratch`).

    rlhf train --algo ppo --env Hopper-v5 --total-steps 1000000 --seed 1 --run-dir runs/hopper
    rlhf plot runs/hopper-*            learning curves as PNG
    rlhf lm pretrain|sft|sample ...    the language-model world
    rlhf assignment list|make|grade    assignments cut from the code, and their autograder

Mistakes in flags come back as one plain sentence (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from rlhf_from_scratch.utils.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    from rlhf_from_scratch import __version__
    from rlhf_from_scratch.autograder import cli as autograder_cli
    from rlhf_from_scratch.envs import cli as gym_cli
    from rlhf_from_scratch.lm import cli as lm_cli

    parser = argparse.ArgumentParser(
        prog="rlhf", description="Policy-gradient RL and RLHF, written from scratch."
    )
    parser.add_argument("--version", action="version", version=f"rlhf_from_scratch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    gym_cli.add_commands(commands)
    lm_cli.add_commands(commands)
    autograder_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ConfigError as error:
        print(f"rlhf: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            "\nrlhf: interrupted; the last checkpoint is kept (rerun with --resume)",
            file=sys.stderr,
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
