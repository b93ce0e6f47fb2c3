"""Case files: the built-in suite loads, and every kind of mistake is named by file, field, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cases import BUILTIN_CASES, CaseError, CaseErrors, load_case, load_cases
from grader.cases.script import ConversationScript, FunctionScript, make_script
from grader.checks import planned
from grader.grading import make_scripts
from mock_api.tokens import count_request_tokens, text_tokens

GOOD = """\
id = "tiny"
description = "two lines"
points = 2
budget = 300

[replies]
tokens = 12

[[lines]]
text = "Hello"

[[lines]]
tokens = 40
language = "ko"
repeat = 3
"""


def write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_suite_loads_with_unique_ids_and_both_kinds() -> None:
    cases = load_cases(BUILTIN_CASES)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)) >= 5
    assert {c.kind for c in cases} == {"functions", "conversation"}
    assert any(c.visibility == "hidden" for c in cases)
    assert any(c.budget == 8000 for c in cases), "the lesson's own budget is graded"


def test_a_good_case_becomes_a_script_of_exact_lines(tmp_path: Path) -> None:
    case = load_case(write(tmp_path, GOOD))
    assert (case.id, case.points, case.budget, case.reply_tokens) == ("tiny", 2.0, 300, 12)
    script = make_script(case)
    assert isinstance(script, ConversationScript)
    assert script.lines[0] == "Hello"
    assert len(script.lines) == 4
    assert [text_tokens(line, case.model) for line in script.lines[1:]] == [40, 40, 40]
    assert not script.oversize
    assert "oversize_handled" not in [c.id for c in planned(script)]  # no line needs it
    assert make_script(case).lines == script.lines, "generated lines are reproducible"


def test_oversize_lines_are_found_by_the_graders_count(tmp_path: Path) -> None:
    text = GOOD + "\n[[lines]]\ntokens = 400\n"
    script = make_script(load_case(write(tmp_path, text)))
    assert isinstance(script, ConversationScript)
    assert script.oversize == {4}
    need = count_request_tokens(
        [*script.system_messages, {"role": "user", "content": script.lines[4]}], "gpt-5.4"
    )
    assert need > 300
    assert "oversize_handled" in [c.id for c in planned(script)]


def test_functions_case_generates_the_required_kinds_of_history(tmp_path: Path) -> None:
    path = write(tmp_path, 'id = "fn"\nkind = "functions"\nbudget = 500\nseed = 4\nhistories = 9\n')
    script = make_script(load_case(path))
    assert isinstance(script, FunctionScript)
    labels = {s.label for s in script.trim_samples}
    for wanted in ("exactly at the budget", "many short", "long messages", "several system",
                   "Korean and emoji", "<|endoftext|>", "ValueError"):  # fmt: skip
        assert any(wanted in label for label in labels), wanted
    exact = next(s for s in script.trim_samples if "exactly" in s.label)
    assert count_request_tokens(exact.messages, "gpt-5.4") == exact.budget
    again = make_script(load_case(path))
    assert isinstance(again, FunctionScript)
    assert [s.messages for s in again.trim_samples] == [s.messages for s in script.trim_samples]
    other = make_script(load_case(path), seed=5)
    assert isinstance(other, FunctionScript)
    assert [s.messages for s in other.trim_samples] != [s.messages for s in script.trim_samples]


@pytest.mark.parametrize(
    ("text", "field", "line", "problem"),
    [
        (GOOD.replace("budget = 300", 'budget = "lots"'), "budget", 4, "whole number"),
        (GOOD.replace("points = 2", "points = -1"), "points", 3, "at least 0"),
        (GOOD.replace('id = "tiny"', 'id = "a b"'), "id", 1, "letters, digits"),
        (GOOD.replace("budget = 300", "budgte = 300"), "budgte", 4, "unknown field"),
        (GOOD.replace('language = "ko"', 'language = "klingon"'), "lines[1].language", 14,
         "not one of"),
        (GOOD.replace("repeat = 3", "repeat = 0"), "lines[1].repeat", 15, "from 1 to 1000"),
        (GOOD.replace("tokens = 12", "tokens = 12\ntexts = ['x']"), "replies", 6, "exactly one"),
        (GOOD.replace('text = "Hello"', 'text = "Hello"\ntokens = 3'), "lines[0]", 9,
         "exactly one"),
        ('checks = ["count_tokens"]\n' + GOOD, "checks", 1, "not a check of a conversation"),
        (GOOD.replace('id = "tiny"\n', ""), "id", None, "is required"),
        ('kind = "functions"\n' + GOOD, "lines", 10, "only conversation cases"),
        (GOOD.replace('text = "Hello"', 'text = "/quit"'), "lines[0].text", 10, "ends the REPL"),
        (GOOD.replace('text = "Hello"', 'text = " Hello"'), "lines[0].text", 10, "spaces"),
    ],
)  # fmt: skip
def test_mistakes_are_named_by_file_field_and_line(
    tmp_path: Path, text: str, field: str, line: int | None, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CaseError) as caught:
        load_case(path)
    error = caught.value
    assert error.path == path
    assert error.field == field
    assert problem in error.problem
    assert str(path) in str(error)
    if line is not None:
        assert error.line == line
        assert f"line {line}" in str(error)


def test_invalid_toml_names_the_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, 'id = "x"\nbudget = = 3\n')
    with pytest.raises(CaseError, match=r"case\.toml: not valid TOML: .*line 2"):
        load_case(path)


def test_a_directory_reports_every_bad_file_and_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")  # same id
    write(tmp_path, GOOD.replace("budget = 300", "budget = 3"), "c.toml")
    with pytest.raises(CaseErrors) as caught:
        load_cases(tmp_path)
    messages = [str(e) for e in caught.value.errors]
    assert any("c.toml" in m and "'budget'" in m and "at least 10" in m for m in messages)
    assert any("b.toml" in m and "duplicate id 'tiny'" in m for m in messages)


def test_an_empty_or_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="holds no"):
        load_cases(tmp_path)
    with pytest.raises(CaseError, match="no such directory"):
        load_cases(tmp_path / "nope")


def test_listing_oversize_handled_without_an_oversize_line_is_rejected(tmp_path: Path) -> None:
    text = 'checks = ["system_kept", "oversize_handled"]\n' + GOOD
    case = load_case(write(tmp_path, text))
    with pytest.raises(CaseError, match="applies only with a line over the budget on its own"):
        make_scripts([case])


def test_the_check_ids_a_case_may_name_are_the_registered_checks(tmp_path: Path) -> None:
    from grader.cases.parse import known_checks
    from grader.checks import CHECKS

    for kind in ("functions", "conversation"):
        named = known_checks(kind)
        assert named == [c.id for c in CHECKS.values() if c.reported and c.kind in (kind, "any")]
        for check_id in named:
            load_case(write(tmp_path, f'checks = ["{check_id}"]\n' + (GOOD if kind ==
                      "conversation" else 'id = "f"\nkind = "functions"\n')))  # fmt: skip
    assert "requests_sent" not in known_checks("conversation")  # internal, never reported


def test_a_script_knows_its_kind_and_what_its_child_is_given(tmp_path: Path) -> None:
    from typing import get_args

    from grader.cases import KINDS
    from grader.cases.script import Script
    from grader.checks import CHECKS
    from grader.checks import KINDS as CHECK_KINDS

    assert sorted(cls.kind for cls in get_args(Script)) == sorted(KINDS)
    assert set(CHECK_KINDS) == {*KINDS, "any"}

    conversation = make_script(load_case(write(tmp_path, GOOD)))
    assert conversation.kind == "conversation" and len(conversation.lines) == 4
    assert conversation.inputs() == {
        "lines": list(conversation.lines),
        "system_prompt": "You are a helpful assistant.",  # the default
    }
    assert conversation.samples("count_tokens") == [] and conversation.mock_config() is not None
    taken = {c.id for c in CHECKS.values() if c.takes(conversation)}
    assert {"loads", "repl_exits", "under_budget"} <= taken
    assert not taken & {"count_tokens", "trim_function", "oversize_handled"}  # no oversize line

    functions = make_script(load_case(write(tmp_path, 'id = "f"\nkind = "functions"\n', "f.toml")))
    given = functions.inputs()
    assert functions.kind == "functions" and functions.lines == () and given["lines"] == []
    assert "system_prompt" not in given and functions.mock_config() is None
    assert given["count_samples"] == functions.samples("count_tokens") != []
    trims = functions.samples("trim_history")
    assert given["trim_samples"] == [{"messages": s.messages, "budget": s.budget} for s in trims]
    assert {c.id for c in CHECKS.values() if c.takes(functions)} == {
        "loads",
        "count_tokens",
        "trim_function",
    }
