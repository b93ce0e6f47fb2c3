"""Instructors extend the grader: checks of their own in one file (--checks), cases of their own
that are proved on the reference solution before any student is graded on them (--cases)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import GradeHere

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "examples" / "usage_line.py"


@pytest.fixture
def run_grade(grade_here: GradeHere) -> GradeHere:
    """``grade`` itself, run in this process on warm sandboxes; the checks a --checks file
    adds are taken away again after each run (see conftest)."""
    return grade_here


def checks_of(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    return {c["id"]: c for c in json.loads(done.stdout)["checks"]}


def test_a_check_in_one_file_joins_the_grading(tmp_path: Path, run_grade: GradeHere) -> None:
    plugin = tmp_path / "greets.py"
    plugin.write_text(
        "from grader.checks import Failure, check\n\n\n"
        '@check(kind="conversation", description="the REPL greets first")\n'
        "def greets(script, run):\n"
        '    if "hello" not in run.preamble.lower():\n'
        '        raise Failure("it printed no greeting before the first line", "Say hello.")\n',
        encoding="utf-8",
    )
    done = run_grade("--checks", str(plugin), "--case", "short_chat", "--format", "json")
    checks = checks_of(done)
    assert checks["greets"]["status"] == "failed", done.stdout
    assert checks["greets"]["message"] == "it printed no greeting before the first line"
    assert checks["oldest_first"]["status"] == "passed"


def test_the_worked_example_passes_the_reference_and_fails_a_repl_without_usage_lines(
    run_grade: GradeHere,
) -> None:
    done = run_grade("--checks", str(EXAMPLE), "--case", "short_chat", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert checks_of(done)["usage_line"]["status"] == "passed"
    done = run_grade(
        "tests/corpus/no_trimming", "--checks", str(EXAMPLE), "--case", "short_chat",
        "--format", "json",
    )  # fmt: skip
    usage = checks_of(done)["usage_line"]
    assert usage["status"] == "failed"
    assert "after the reply to line 1 it printed no usage line" in usage["message"]


def test_a_broken_checks_file_is_a_usage_error_naming_it(
    tmp_path: Path, run_grade: GradeHere
) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text("from grader.checks import check\n\n@check(kind='nope', description='x')\n"
                      "def x(script, run):\n    pass\n", encoding="utf-8")  # fmt: skip
    done = run_grade("--checks", str(plugin), "--list")
    assert done.returncode == 2
    assert "broken.py" in done.stderr and "kind must be one of" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_case_the_reference_cannot_pass_is_refused(tmp_path: Path, run_grade: GradeHere) -> None:
    (tmp_path / "fine.toml").write_text('id = "fine"\n[[lines]]\ntext = "Hello"\n')
    (tmp_path / "slash.toml").write_text(
        'id = "slash"\n[[lines]]\ntext = "Hello"\n[[lines]]\ntext = "/tokens"\n'
    )
    done = run_grade("--cases", str(tmp_path), "exercise/")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "slash.toml: case 'slash' is refused" in done.stderr
    assert "does not pass repl_exits" in done.stderr
    assert "'fine'" not in done.stderr
    assert done.stdout == ""  # no student was graded on it

    (tmp_path / "slash.toml").unlink()
    done = run_grade("--cases", str(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
