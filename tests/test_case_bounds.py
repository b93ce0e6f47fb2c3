"""Case files at the edges: every number has the range real cases need, and a value outside it
is a usage error naming the file, the line and the field, before anything is generated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.cases import CaseError, load_case

CONVERSATION = """\
id = "edge"
budget = 300
{extra}
[replies]
tokens = {reply_tokens}

[[lines]]
tokens = {line_tokens}
repeat = {repeat}
"""
FUNCTIONS = """\
id = "edge_functions"
kind = "functions"
budget = {budget}
histories = {histories}
"""


def conversation(extra: str = "", reply_tokens: int = 12, line_tokens: int = 40,
                 repeat: int = 1) -> str:  # fmt: skip
    return CONVERSATION.format(
        extra=extra, reply_tokens=reply_tokens, line_tokens=line_tokens, repeat=repeat
    )


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (FUNCTIONS.format(budget=1_000_000_000, histories=10), "budget", "at most 1,048,576"),
        (FUNCTIONS.format(budget=400, histories=10_000_000), "histories", "at most 5,000"),
        (conversation(reply_tokens=1_000_000_000), "replies.tokens", "to the budget (300)"),
        (conversation(line_tokens=1201), "lines[0].tokens", "4 x the budget (1200)"),
        (conversation(repeat=1001), "lines[0].repeat", "from 1 to 1000"),
        (conversation("points = nan"), "points", "finite"),
        (conversation("points = inf"), "points", "finite"),
        (conversation("timeout = inf"), "timeout", "finite"),
        (conversation("timeout = -inf"), "timeout", "finite"),
        (conversation("timeout = 100000"), "timeout", "at most 600"),
        (conversation("points = 1e9"), "points", "at most 1,000"),
        (conversation("timeout = 10\nstall = 11"), "stall", "at most 10"),
    ],
)
def test_out_of_range_values_name_the_field_and_line(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaseError) as raised:
        load_case(path)
    assert raised.value.field == field
    assert raised.value.line is not None
    assert words in str(raised.value)


def test_too_many_lines_or_tokens_in_all(tmp_path: Path) -> None:
    many = "".join('[[lines]]\ntext = "hi"\nrepeat = 1000\n\n' for _ in range(6))
    path = tmp_path / "many.toml"
    path.write_text('id = "many"\n' + many, encoding="utf-8")
    with pytest.raises(CaseError, match="more than 5,000 lines"):
        load_case(path)
    heavy = "".join("[[lines]]\ntokens = 4000\nrepeat = 1000\n\n" for _ in range(1))
    path.write_text('id = "heavy"\nbudget = 1000\n' + heavy, encoding="utf-8")
    with pytest.raises(CaseError, match="more than 2,000,000 generated tokens"):
        load_case(path)


def test_deep_nesting_and_huge_files_are_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text('id = "deep"\nchecks = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(CaseError, match=r"nested too deeply|not valid TOML"):
        load_case(deep)
    huge = tmp_path / "huge.toml"
    huge.write_text('id = "huge"\n' + "# padding\n" * 200_000)
    with pytest.raises(CaseError, match="over 1024 KB"):
        load_case(huge)


def test_grade_exits_2_on_a_bad_value_without_a_traceback(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "edge.toml").write_text(conversation("points = nan"), encoding="utf-8")
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "chat_repl.py").write_text("raise SystemExit('never run')\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from grader.cli import grade; grade()",
            str(submission),
            "--cases",
            str(cases),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "edge.toml, line 3: field 'points': must be a finite number" in result.stderr
    assert "Traceback" not in result.stderr
