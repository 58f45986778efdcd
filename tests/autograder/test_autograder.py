"""Assignments: the starter scores 0, the reference full marks, and each classic mistake loses
the points of the check that names it."""

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rlhf_from_scratch.autograder.assignments import ASSIGNMENTS
from rlhf_from_scratch.autograder.cut import cut
from rlhf_from_scratch.autograder.grade import grade, write_autograder, write_starter
from rlhf_from_scratch.cli import main
from rlhf_from_scratch.utils.errors import ConfigError


def reference_source(name: str) -> str:
    return Path(importlib.util.find_spec(ASSIGNMENTS[name].module).origin).read_text()


def submit(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / ASSIGNMENTS[name].file_name
    path.write_text(source)
    return path


def mistake(tmp_path: Path, name: str, old: str, new: str) -> dict:
    """Grade the reference with one line changed (the change must apply)."""
    source = reference_source(name)
    assert old in source
    return grade(ASSIGNMENTS[name], submit(tmp_path, name, source.replace(old, new)))


def scores(results: dict) -> list[float]:
    return [t["score"] for t in results["tests"]]


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_the_starter_scores_zero_and_the_reference_full_marks(name, tmp_path):
    assignment = ASSIGNMENTS[name]
    starter = write_starter(assignment, tmp_path / "hw")
    text = starter.read_text()
    for function in assignment.functions:
        assert f'raise NotImplementedError("{function}")' in text
    assert (tmp_path / "hw" / "README.md").read_text().count("|") > 4  # the table of checks
    zero = grade(assignment, tmp_path / "hw")
    assert zero["score"] == 0
    assert all("not written yet" in t["output"] for t in zero["tests"])
    full = grade(assignment, importlib.util.find_spec(assignment.module).origin)
    assert full["score"] == assignment.max_score > 0, full
    assert {"name", "score", "max_score", "output", "visibility"} <= set(full["tests"][0])


def test_cut_keeps_signatures_docstrings_and_everything_else():
    source = '''import math


def kept(x):
    return x


class A:
    def f(self, x):
        """The docstring stays."""
        y = x + 1
        return y

    def g(self):
        return 2


def h(x):
    # a comment inside the body goes too
    return math.sqrt(x)
'''
    out = cut(source, ["A.f", "h"])
    assert 'def f(self, x):\n        """The docstring stays."""\n        # YOUR CODE HERE\n' in out
    assert 'raise NotImplementedError("A.f")' in out and "y = x + 1" not in out
    assert 'def h(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("h")' in out
    assert "math.sqrt" not in out and "return x\n" in out and "return 2" in out
    namespace = {}
    exec(out, namespace)
    assert namespace["A"]().g() == 2
    with pytest.raises(ConfigError, match="no function 'nope'"):
        cut(source, ["nope"])


def test_gae_that_bootstraps_after_a_real_ending_loses_the_gae_checks(tmp_path):
    results = mistake(
        tmp_path,
        "returns",
        "delta = rewards + gamma * (1 - terminated) * values[1:] - values[:T]",
        "delta = rewards + gamma * values[1:] - values[:T]",
    )
    assert scores(results) == [1, 2, 2, 0, 0]
    assert "lambda = 0" in results["tests"][3]["output"]


def test_reward_to_go_without_the_truncation_bootstrap_loses_that_check(tmp_path):
    results = mistake(
        tmp_path,
        "returns",
        "bootstrap = values[t + 1] * truncated[t] if values is not None else 0.0",
        "bootstrap = 0.0",
    )
    assert scores(results)[:3] == [1, 2, 0]
    assert "time-limit cut" in results["tests"][2]["output"]


def test_an_unstable_bradley_terry_loss_loses_the_stability_check(tmp_path):
    results = mistake(
        tmp_path,
        "bradley_terry",
        "log_p, log_not_p = F.logsigmoid(d), F.logsigmoid(-d)",
        "log_p, log_not_p = torch.sigmoid(d).log(), (1 - torch.sigmoid(d)).log()",
    )
    assert scores(results) == [1, 2, 1, 0, 2]


def test_ppo_with_the_surrogate_sign_flipped_loses_the_loss_checks(tmp_path):
    results = mistake(
        tmp_path,
        "ppo_loss",
        "policy_loss = -masked_mean(surrogate, mb.mask)",
        "policy_loss = masked_mean(surrogate, mb.mask)",
    )
    assert scores(results) == [1, 0, 0, 1]
    assert "policy_loss" in results["tests"][1]["output"]


def test_broken_submissions_score_zero_with_a_reason(tmp_path):
    results = grade(ASSIGNMENTS["returns"], submit(tmp_path, "returns", "def gae(:\n"))
    assert results["score"] == 0
    assert "could not be imported: SyntaxError" in results["tests"][0]["output"]
    source = reference_source("returns").replace(
        "    T = rewards.shape[0]\n    discounts", "    while True:\n        pass\n    discounts"
    )
    results = grade(ASSIGNMENTS["returns"], submit(tmp_path, "returns", source), 1)
    assert (
        results["tests"][0]["score"] == 0 and "stopped after 1 s" in results["tests"][0]["output"]
    )
    assert results["tests"][1]["score"] == 2  # the other checks still run
    source = reference_source("returns").replace(
        "    T = rewards.shape[0]\n    discounts", "    raise SystemExit(0)\n    discounts"
    )
    results = grade(ASSIGNMENTS["returns"], submit(tmp_path, "returns", source))
    assert results["tests"][0]["output"].startswith("error: SystemExit")  # the grader goes on
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no returns.py in"):
        grade(ASSIGNMENTS["returns"], tmp_path / "empty")


def test_the_cli_writes_results_json_and_refuses_an_unknown_assignment(tmp_path, capsys):
    path = submit(tmp_path, "bradley_terry", reference_source("bradley_terry"))
    main(
        [
            "assignment",
            "grade",
            "bradley_terry",
            "--submission",
            str(path),
            "--results",
            str(tmp_path / "r.json"),
        ]
    )
    assert "7 / 7 points" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 7
    work = tmp_path / "hw" / "returns.py"
    main(["assignment", "make", "returns", "--out", str(work.parent)])
    work.write_text("# my solution")
    with pytest.raises(SystemExit):  # making it again would overwrite the student's work
        main(["assignment", "make", "returns", "--out", str(work.parent)])
    assert work.read_text() == "# my solution" and "--force" in capsys.readouterr().err
    main(["assignment", "make", "returns", "--out", str(work.parent), "--force"])
    assert "YOUR CODE HERE" in work.read_text()
    with pytest.raises(SystemExit) as exit_info:
        main(["assignment", "make", "return", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "did you mean 'returns'" in capsys.readouterr().err


def test_the_gradescope_zip_runs_a_submission(tmp_path):
    archive = write_autograder(ASSIGNMENTS["returns"], tmp_path / "returns.zip")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "package/pyproject.toml"} <= names
        assert "package/rlhf_from_scratch/maths/returns.py" in names
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111
        zf.extract("run_autograder", tmp_path)
    # Gradescope's layout, with this interpreter in place of the one setup.sh installs
    (tmp_path / "submission").mkdir()
    submit(tmp_path / "submission", "returns", reference_source("returns"))
    env = dict(os.environ, AUTOGRADER=str(tmp_path), PYTHON=sys.executable)
    subprocess.run(
        ["bash", str(tmp_path / "run_autograder")], env=env, check=True, capture_output=True
    )
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == ASSIGNMENTS["returns"].max_score


def test_steepest_descent_in_place_of_conjugate_gradient_loses_the_solve(tmp_path):
    results = mistake(tmp_path, "trpo", "p = r + (rr_new / rr) * p", "p = r")
    assert scores(results) == [0, 1, 3]


def test_dpo_with_the_log_ratio_upside_down_loses_the_dpo_checks(tmp_path):
    results = mistake(
        tmp_path, "dpo", "return beta * (logp - logp_ref)", "return beta * (logp_ref - logp)"
    )
    assert scores(results) == [0, 0, 0]
    assert "must fall as log pi(y_w | x) rises" in results["tests"][2]["output"]


def test_reinforce_without_the_value_bootstrap_loses_the_value_baseline_check(tmp_path):
    results = mistake(
        tmp_path,
        "reinforce",
        'use_values = values if c.baseline == "value" else None',
        "use_values = None",
    )
    assert scores(results) == [1, 1, 1, 0, 1]
