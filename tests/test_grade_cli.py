"""The ``grade`` command as students and instructors use it: exit codes, formats, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import GradeHere

from grader.cases import BUILTIN_CASES, load_cases
from grader.cli import grade

REPO = Path(__file__).resolve().parent.parent


def run_grade(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (its own process, its own worker)."""
    return subprocess.run(
        [sys.executable, "-c", "from grader.cli import grade; grade()", *args],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip


@pytest.mark.openai_compat
def test_the_reference_solution_passes_every_check_as_json() -> None:
    done = run_grade("solution/", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True
    assert report["score"] == report["max_score"] > 0
    ids = {check["id"] for check in report["checks"]}
    assert ids >= {"loads", "count_tokens", "trim_function", "system_kept", "under_budget",
                   "oldest_first", "not_over_trimmed", "history_kept", "oversize_handled",
                   "repl_exits"}  # fmt: skip
    for check in report["checks"]:
        assert set(check) >= {"id", "case", "passed", "message"}
        assert check["passed"] is True


def test_no_path_grades_the_reference_and_says_so(grade_here: GradeHere) -> None:
    done = grade_here("--case", "short_chat")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "grading the reference solution" in done.stderr
    assert "all checks passed" in done.stdout


def test_the_exercise_stub_fails_with_its_todo_pointer_not_a_traceback(
    grade_here: GradeHere,
) -> None:
    done = grade_here("exercise/")
    assert done.returncode == 1
    out = done.stdout
    assert ":( count_tokens" in out
    assert "TODO: implement count_tokens" in out
    assert "exercise/README.md" in out
    assert ":| 5 checks skipped: no request was sent" in out
    assert "Traceback (most recent call last)" not in out + done.stderr
    # One screen: the shared failure is told once, the checks it blocks in one line per case.
    assert len(out.splitlines()) <= 45, out
    assert out.count("raise NotImplementedError") == 1, out
    assert "case long_chat: the same as case short_chat" in out
    assert "requests_sent" not in out  # no internal ids
    assert ":) passed   :( failed   :| skipped" in out.splitlines()[1]
    assert "sandbox: network namespace" not in done.stderr  # the fences, for instructors


def test_junit_and_gradescope_reports(tmp_path: Path, grade_here: GradeHere) -> None:
    junit = tmp_path / "report.xml"
    done = grade_here("exercise/", "--format", "junit", "--output", str(junit))
    assert done.returncode == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", "0")) > 0
    assert int(suite.get("tests", "0")) == len(suite.findall("testcase"))
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message")

    results = tmp_path / "results.json"
    done = grade_here("exercise/", "--format", "gradescope", "--output", str(results))
    assert done.returncode == 1
    data = json.loads(results.read_text())
    assert 0 <= data["score"] < sum(t["max_score"] for t in data["tests"])
    hidden = {c.id for c in load_cases(BUILTIN_CASES) if c.visibility == "hidden"}
    assert hidden, "the built-in suite has a hidden case"
    for test in data["tests"]:
        case = test["name"].split(":")[0]
        assert test["visibility"] == ("hidden" if case in hidden else "visible")
        assert test["status"] in ("passed", "failed")


def test_usage_errors_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(grade, [str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.output

    (tmp_path / "bad.toml").write_text('id = "x"\nbudget = "many"\n[[lines]]\ntext = "hi"\n')
    bad = runner.invoke(grade, ["--cases", str(tmp_path), "solution/"])
    assert bad.exit_code == 2
    assert "bad.toml, line 2: field 'budget': must be a whole number" in bad.output
    assert "Traceback" not in bad.output

    unknown = runner.invoke(grade, ["--case", "nope", "--list"])
    assert unknown.exit_code == 2
    assert "no case nope" in unknown.output


def test_list_shows_every_case() -> None:
    result = CliRunner().invoke(grade, ["--list"])
    assert result.exit_code == 0
    for case in load_cases(BUILTIN_CASES):
        assert case.id in result.output


def test_small_usage_errors_say_what_was_found_and_what_is_valid(tmp_path: Path) -> None:
    runner = CliRunner()
    text = tmp_path / "notpython.txt"
    text.write_text("hello\n")
    done = runner.invoke(grade, [str(text)])
    assert done.exit_code == 2 and "not a Python file" in done.output
    assert "AssertionError" not in done.output

    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "main.py").write_text("")
    (folder / "notes.txt").write_text("")
    done = runner.invoke(grade, [str(folder)])
    assert done.exit_code == 2
    assert "no chat_repl.py here" in done.output and "main.py, notes.txt" in done.output

    done = runner.invoke(grade, ["--case", "nosuch", "--list"])
    assert done.exit_code == 2
    assert "the cases are functions, short_chat" in done.output

    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "typo.toml").write_text(
        'id = "t"\nbugdet = 300\n[[lines]]\ntext = "Hi"\n'
    )
    done = runner.invoke(grade, ["--cases", str(tmp_path / "cases"), "--list"])
    assert done.exit_code == 2 and "did you mean 'budget'?" in done.output


def test_two_submissions_of_the_same_name_are_told_apart(tmp_path: Path) -> None:
    from grader.cli import report_names

    one, two, bob = tmp_path / "a" / "alice", tmp_path / "b" / "alice", tmp_path / "a" / "bob"
    names = report_names([one, two, bob])
    assert names[bob] == "bob"
    assert names[one] != names[two] and "alice" in names[one]
