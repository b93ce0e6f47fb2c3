"""Every error of the console scripts, click's own or the grader's, in the one format."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import grade

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "grade": "from grader.cli import grade; grade(prog_name='grade')",
    "mock-openai": "from mock_api.cli import main; main(prog_name='mock-openai')",
}


def run(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as a user runs it, standard error apart."""
    return subprocess.run(
        [sys.executable, "-c", COMMANDS[command], *args],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# (command, arguments (TMP: a fresh folder), what the first line says after "error: ",
#  whether it is a mistake in the command line itself, which adds the usage)
CASES = [
    ("grade", ["--nosuch"], "No such option '--nosuch'.", True),
    ("grade", ["--format", "xml"], "Invalid value for '--format': 'xml' is not one of", True),
    ("grade", ["TMP/nope"], "TMP/nope: no such file or directory", False),
    ("grade", ["TMP/notes.txt"], "TMP/notes.txt: not a Python file", False),
    (
        "grade",
        ["--cases", "TMP/cases", "--list"],
        "TMP/cases/bad.toml, line 2: field 'budget': must be a whole number, got 'lots'",
        False,
    ),
    ("grade", ["--case", "nosuch", "--list"], "--case: no case nosuch in", False),
    ("grade", ["--checks", "TMP/checks.py", "--list"], "--checks TMP/checks.py, line 2: ", False),
    (
        "grade",
        ["--lang", "ko", "--output", "TMP/no/r.json", "exercise/"],
        "--output TMP/no/r.json",
        False,
    ),
    ("mock-openai", ["serve", "--fault", "3:explode"], "Invalid value for '--fault'", True),
    ("mock-openai", ["nosuch"], "No such command 'nosuch'.", True),
]


@pytest.mark.parametrize(("command", "args", "problem", "usage"), CASES)
def test_every_error_has_one_format(
    command: str, args: list[str], problem: str, usage: bool, tmp_path: Path
) -> None:
    write(tmp_path / "notes.txt", "hello\n")
    write(tmp_path / "cases" / "bad.toml", 'id = "x"\nbudget = "lots"\n[[lines]]\ntext = "hi"\n')
    write(tmp_path / "checks.py", "import os\nraise RuntimeError('not yet')\n")
    done = run(command, *(a.replace("TMP", str(tmp_path)) for a in args))

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error: " + problem.replace("TMP", str(tmp_path))), done.stderr
    assert "Traceback" not in done.stderr and "\x1b[" not in done.stderr  # no colour in a pipe
    if usage:  # the error first; then how the command is used, and where help is
        assert len(lines) == 3, done.stderr
        used = re.match(rf"Usage: ({command}(?: serve)?) \[OPTIONS\]", lines[1])
        assert used, lines[1]
        assert lines[2] == f"Try '{used[1]} --help' for help."
    else:
        assert lines[1:] == []


def test_every_problem_of_the_input_is_one_error_line(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", 'id = "a"\nbudget = "lots"\n[[lines]]\ntext = "hi"\n')
    write(tmp_path / "b.toml", 'id = "b"\nbugdet = 300\n[[lines]]\ntext = "hi"\n')
    done = run("grade", "--cases", str(tmp_path), "--list")
    assert done.returncode == 2
    first, second = done.stderr.splitlines()
    assert first == (
        f"error: {tmp_path / 'a.toml'}, line 2: field 'budget': must be a whole number, got 'lots'"
    )
    assert second.startswith(
        f"error: {tmp_path / 'b.toml'}, line 2: field 'bugdet': unknown field; did you mean "
        "'budget'?"
    )


def test_on_a_terminal_the_prefix_is_red(tmp_path: Path) -> None:
    result = CliRunner().invoke(grade, [str(tmp_path / "nope")], color=True)
    assert result.exit_code == 2
    assert "\x1b[31m\x1b[1merror:\x1b[0m " in result.output


def test_a_bug_of_the_graders_own_is_one_line_naming_where(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cases: object) -> str:
        raise KeyError("visibility")

    monkeypatch.setattr("grader.cli.case_table", broken)
    result = CliRunner().invoke(grade, ["--list"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: trimlab failed: KeyError: 'visibility' ({__file__}, line "
        f"{broken.__code__.co_firstlineno + 1}); please report this"
    ]


def test_a_file_the_system_refuses_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(cases: object) -> str:
        raise PermissionError(13, "Permission denied", "/srv/cases/a.toml")

    monkeypatch.setattr("grader.cli.case_table", refused)
    result = CliRunner().invoke(grade, ["--list"])
    assert result.exit_code == 1
    assert result.output == "error: /srv/cases/a.toml: Permission denied\n"
