"""Grading a submission, in Gradescope's results format, and the autograder zip Gradescope runs.

    results = grade(ASSIGNMENTS["returns"], "submission/returns.py")
    {"score": 7.0, "output": "...", "tests": [{"name", "score", "max_score", "output",
     "visibility"}, ...]}                      (Gradescope's results.json)

The submission is the student's copy of the package module, loaded on its own under another
name, so the reference stays importable beside it (the checks compare with it). Each check is
scored alone: an exception in one costs that check's points only, and a check that runs past
its time limit (an endless loop) is stopped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import signal
import sys
import time
import traceback
import zipfile
from pathlib import Path
from types import ModuleType

from rlhf_from_scratch.autograder.assignments import Assignment
from rlhf_from_scratch.autograder.cut import cut
from rlhf_from_scratch.utils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]  # the repository: pyproject.toml and the package


def submission_file(assignment: Assignment, path: str | Path) -> Path:
    """The student's file: `path` itself, or the file of the right name inside a folder."""
    path = Path(path)
    if path.is_dir():
        matches = sorted(path.rglob(assignment.file_name))
        if not matches:
            raise ConfigError(
                f"no {assignment.file_name} in {path}: submit the file that "
                f"`rlhf assignment make {assignment.name}` wrote, completed"
            )
        return matches[0]
    if not path.is_file():
        raise ConfigError(f"submission {path} does not exist")
    return path


def load_submission(assignment: Assignment, path: Path) -> ModuleType:
    """Import the student's module under its own name (the reference stays importable)."""
    name = f"submission_{assignment.name}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class CheckTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    """Stop the block after `seconds` (Unix; elsewhere the block runs without a limit)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def stop(signum, frame):
        raise CheckTimeout(f"stopped after {seconds} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _student_frame(error: BaseException, path: Path) -> str:
    """'line N of returns.py: <code>' for the deepest frame in the student's file, if any."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    if not frames:
        return ""
    f = frames[-1]
    return f" (line {f.lineno} of {path.name}: {f.line})"


def grade(assignment: Assignment, submission: str | Path, seconds_per_check: int = 60) -> dict:
    """Run every check on the submission; Gradescope's results dict."""
    t0 = time.perf_counter()
    path = submission_file(assignment, submission)
    tests = []
    try:
        module = load_submission(assignment, path)
        load_error = None
    except (Exception, SystemExit) as error:  # a syntax error, a bad import, exit(): all 0
        module = None
        load_error = f"{path.name} could not be imported: {type(error).__name__}: {error}"
    for check in assignment.checks:
        if module is None:
            score, output = 0.0, load_error
        else:
            try:
                with time_limit(seconds_per_check):
                    check.run(module)
                score, output = check.points, "passed"
            except NotImplementedError as error:
                score, output = 0.0, f"not written yet: {error} raises NotImplementedError"
            except AssertionError as error:
                score, output = 0.0, f"wrong: {error}"
            except (Exception, SystemExit) as error:  # exit() in a submission too
                score = 0.0
                output = f"error: {type(error).__name__}: {error}{_student_frame(error, path)}"
        tests.append(
            {
                "name": check.name,
                "score": score,
                "max_score": check.points,
                "output": output,
                "visibility": "visible",
            }
        )
    total = sum(t["score"] for t in tests)
    return {
        "score": total,
        "output": f"{assignment.title}: {total:g} / {assignment.max_score:g} points",
        "execution_time": round(time.perf_counter() - t0, 2),
        "tests": tests,
    }


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when the autograder image is built (Ubuntu, with internet).
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install --quiet /autograder/source/package
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: the student's files are in submission/.
set -euo pipefail
AUTOGRADER=${{AUTOGRADER:-/autograder}}
PYTHON=${{PYTHON:-$AUTOGRADER/venv/bin/python}}
mkdir -p "$AUTOGRADER/results"
"$PYTHON" -m rlhf_from_scratch assignment grade {name} \\
    --submission "$AUTOGRADER/submission" --results "$AUTOGRADER/results/results.json"
"""


def write_autograder(assignment: Assignment, out: str | Path) -> Path:
    """Gradescope's autograder zip: setup.sh, run_autograder, and this package's source."""
    if not (ROOT / "pyproject.toml").is_file():
        raise ConfigError(
            "the autograder bundles the package's source with its pyproject.toml: run this from "
            "a checkout of the repository (pip install -e .), not from an installed wheel"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (
            ("setup.sh", SETUP_SH),
            ("run_autograder", RUN_AUTOGRADER.format(name=assignment.name)),
        ):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable, as Gradescope requires
            zf.writestr(info, text)
        for file in ("pyproject.toml", "README.md"):
            zf.write(ROOT / file, f"package/{file}")
        for file in sorted((ROOT / "rlhf_from_scratch").rglob("*.py")):
            zf.write(file, f"package/{file.relative_to(ROOT)}")
    return out


def write_results(results: dict, out: str | Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def write_starter(assignment: Assignment, out: str | Path, force: bool = False) -> Path:
    """The student's starter file (the module with the bodies cut) and a README beside it.

    An existing file of that name (perhaps a student's work) is kept unless `force`.
    """
    source_path = Path(importlib.util.find_spec(assignment.module).origin)
    out = Path(out)
    starter = out / assignment.file_name
    if starter.exists() and not force:
        raise ConfigError(
            f"{starter} exists (your work?): choose another --out, or pass --force to replace it"
        )
    out.mkdir(parents=True, exist_ok=True)
    starter.write_text(cut(source_path.read_text(), assignment.functions))
    lines = [
        f"# Assignment `{assignment.name}`: {assignment.title}",
        "",
        f"Lectures {assignment.lectures} (`../shared/seeds/` in the course repository). "
        f"Complete the functions marked `# YOUR CODE HERE` in `{assignment.file_name}`: "
        + ", ".join(f"`{f}`" for f in assignment.functions)
        + ". Each docstring holds the equation; keep the signatures.",
        "",
        "Check your work as the autograder will (same checks, same points):",
        "",
        f"    rlhf assignment grade {assignment.name} --submission {assignment.file_name}",
        "",
        "| check | points |",
        "|---|---|",
        *[f"| {c.name} | {c.points:g} |" for c in assignment.checks],
        "",
        f"Submit `{assignment.file_name}`.",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    shutil.copymode(source_path, starter)
    return starter
