"""`rlhf assignment list|make|grade|autograder`: the instructor's and the student's commands.

rlhf assignment list                                   what can be handed out
rlhf assignment make returns --out hw1/                the starter file and its README
rlhf assignment grade returns --submission hw1/        the checks, as the autograder runs them
rlhf assignment autograder returns --out returns.zip   the zip to upload to Gradescope
"""

from __future__ import annotations

import argparse

from rlhf_from_scratch.utils.errors import ConfigError, did_you_mean


def _assignment(name: str):
    from rlhf_from_scratch.autograder.assignments import ASSIGNMENTS

    if name not in ASSIGNMENTS:
        raise ConfigError(f"unknown assignment '{name}'{did_you_mean(name, list(ASSIGNMENTS))}")
    return ASSIGNMENTS[name]


def run_list(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.autograder.assignments import ASSIGNMENTS

    for a in ASSIGNMENTS.values():
        print(f"{a.name:14s} {a.max_score:4g} points  lectures {a.lectures:18s} {a.title}")
        print(f"{'':14s} {a.file_name}: {', '.join(a.functions)}")


def run_make(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.autograder.grade import write_starter

    starter = write_starter(_assignment(args.name), args.out, args.force)
    print(f"wrote {starter} and {starter.parent / 'README.md'}")


def run_grade(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.autograder.grade import grade, write_results

    assignment = _assignment(args.name)
    results = grade(assignment, args.submission, args.seconds_per_check)
    for test in results["tests"]:
        mark = "ok  " if test["score"] == test["max_score"] else "FAIL"
        print(f"{mark} {test['score']:g}/{test['max_score']:g}  {test['name']}")
        if test["output"] != "passed":
            print(f"          {test['output']}")
    print(results["output"])
    if args.results:
        write_results(results, args.results)


def run_autograder(args: argparse.Namespace) -> None:
    from rlhf_from_scratch.autograder.grade import write_autograder

    out = write_autograder(_assignment(args.name), args.out)
    print(f"wrote {out}: upload it as the assignment's autograder on Gradescope")


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "assignment", help="assignments cut from the code, and their autograder"
    )
    sub = parser.add_subparsers(dest="assignment_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="the assignments, their files and points")
    p.set_defaults(func=run_list)
    p = sub.add_parser("make", help="write the starter file (bodies cut out) and its README")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="a folder")
    p.add_argument("--force", action="store_true", help="replace a starter file already there")
    p.set_defaults(func=run_make)
    p = sub.add_parser("grade", help="grade a submission (a file, or a folder holding it)")
    p.add_argument("name")
    p.add_argument("--submission", required=True, help="the student's file, or a folder")
    p.add_argument("--results", help="also write Gradescope's results.json here")
    p.add_argument(
        "--seconds-per-check",
        type=int,
        default=60,
        help="a check running longer fails; default: 60",
    )
    p.set_defaults(func=run_grade)
    p = sub.add_parser("autograder", help="write Gradescope's autograder zip")
    p.add_argument("name")
    p.add_argument("--out", required=True, help="the .zip to write")
    p.set_defaults(func=run_autograder)
