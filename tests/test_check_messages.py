"""What the checks tell a student, on hand-made runs: the right check fails, with the right hint.

Each test pins one diagnosis that a corpus submission (tests/corpus/) once got wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from grader.cases import load_case
from grader.cases.script import ConversationScript, TrimSample, make_script
from grader.checks import CheckResult, evaluate
from grader.checks.functions import count_problem, trim_problem
from grader.run import CaseRun, Outcome
from mock_api.core import JournalEntry
from mock_api.tokens import count_request_tokens

MODEL = "gpt-5.4"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
LINES = [f"Question {n}: " + ("tell me more about tokens " * 4).rstrip() for n in range(1, 5)]
CASE = """\
id = "hand_made"
budget = 8000
system = "You are a helpful assistant."

[replies]
tokens = 20
""" + "".join(f'\n[[lines]]\ntext = "{line}"\n' for line in LINES)

Message = dict[str, Any]


def user(n: int) -> Message:
    return {"role": "user", "content": LINES[n]}


def reply(n: int) -> Message:
    return {"role": "assistant", "content": f"Reply {n + 1}. " + "ok " * 10}


def script_for(tmp_path: Path, budget: int = 8000) -> ConversationScript:
    path = tmp_path / "hand_made.toml"
    path.write_text(CASE, encoding="utf-8")
    script = make_script(dataclasses.replace(load_case(path), budget=budget))
    assert isinstance(script, ConversationScript)
    return script


def run_of(
    script: ConversationScript, requests: list[list[Message]], outcome: Outcome | None = None
) -> CaseRun:
    """A run whose journal holds these requests, each answered with the next reply."""
    journal = [
        JournalEntry(i + 1, "POST", "/v1/chat/completions", {"model": MODEL, "messages": msgs},
                     count_request_tokens(msgs, MODEL), 200, reply(i)["content"])
        for i, msgs in enumerate(requests)
    ]  # fmt: skip
    return CaseRun(script, outcome or Outcome("returned"), loaded=True, journal=journal)


def result(script: ConversationScript, run: CaseRun, check: str) -> CheckResult:
    return next(r for r in evaluate(script, run) if r.id == check)


def full(turns: int) -> list[Message]:
    """The whole conversation up to line ``turns`` (0-based), replies included."""
    messages: list[Message] = [SYSTEM]
    for n in range(turns):
        messages += [user(n), reply(n)]
    return [*messages, user(turns)]


def test_dropping_the_newest_line_is_an_ordering_mistake_not_a_forgotten_reply(
    tmp_path: Path,
) -> None:
    script = script_for(tmp_path)
    # The third request drops from the newest end: the new line and the reply before it.
    requests = [full(0), full(1), [SYSTEM, user(0), reply(0)]]
    run = run_of(script, requests)
    assert result(script, run, "history_kept").status == "passed"
    oldest_first = result(script, run, "oldest_first")
    assert oldest_first.status == "failed"
    assert "does not end with the newest line" in oldest_first.message


def test_a_reply_left_out_is_still_a_forgotten_reply(tmp_path: Path) -> None:
    script = script_for(tmp_path)
    run = run_of(script, [full(0), [SYSTEM, user(0), user(1)]])
    history_kept = result(script, run, "history_kept")
    assert history_kept.status == "failed"
    assert "append every reply" in history_kept.help


def test_under_budget_says_nothing_was_trimmed_when_no_request_dropped_anything(
    tmp_path: Path,
) -> None:
    requests = [full(n) for n in range(4)]
    budget = count_request_tokens(requests[2], MODEL) - 5  # only 5 over: like a missing overhead
    script = script_for(tmp_path, budget)
    under_budget = result(script, run_of(script, requests), "under_budget")
    assert under_budget.status == "failed"
    assert "over the budget" in under_budget.message
    assert "No request dropped anything" in under_budget.help


# It trims (request 2 drops the first exchange), but request 3 is over the budget.
TRIMMED = [full(0), [SYSTEM, user(1)], [SYSTEM, user(1), reply(1), user(2)]]


def test_under_budget_points_at_the_overhead_when_a_trim_is_a_little_over(
    tmp_path: Path,
) -> None:
    # A content-only count misses 3 per message, 3 for the reply and the roles: 4*3+3+4 = 19.
    budget = count_request_tokens(TRIMMED[2], MODEL) - 17
    assert all(count_request_tokens(r, MODEL) <= budget for r in TRIMMED[:2])
    script = script_for(tmp_path, budget)
    under_budget = result(script, run_of(script, TRIMMED), "under_budget")
    assert under_budget.status == "failed"
    assert "request 3 of case hand_made" in under_budget.message
    assert "3 tokens beyond its content" in under_budget.help


def test_under_budget_says_trim_when_a_trim_is_far_over(tmp_path: Path) -> None:
    budget = count_request_tokens(TRIMMED[2], MODEL) - 40  # more than the overhead
    assert all(count_request_tokens(r, MODEL) <= budget for r in TRIMMED[:2])
    script = script_for(tmp_path, budget)
    under_budget = result(script, run_of(script, TRIMMED), "under_budget")
    assert under_budget.status == "failed"
    assert "request 3 of case hand_made" in under_budget.message
    assert under_budget.help.startswith("Trim before every request")


def test_a_main_with_other_parameters_is_told_the_signature_the_grader_calls(
    tmp_path: Path,
) -> None:
    script = script_for(tmp_path)
    error = {"type": "TypeError", "message": "got an unexpected keyword argument 'system_prompt'"}
    run = run_of(script, [], Outcome("bad_signature", error=error))
    repl_exits = result(script, run, "repl_exits")
    assert repl_exits.status == "failed"
    assert "unexpected keyword argument 'system_prompt'" in repl_exits.message
    assert "main(system_prompt=..., model=..., max_input_tokens=...)" in repl_exits.help
    assert "return normally" not in repl_exits.help


def test_a_trim_that_drops_nothing_says_so() -> None:
    messages = [SYSTEM, *full(3)[1:]]
    budget = count_request_tokens(messages, MODEL) - 10
    sample = TrimSample("random history", messages, budget)
    unchanged = {"value": messages, "argument_after": {"value": messages}}
    problem = trim_problem(sample, unchanged, MODEL)
    assert problem is not None
    rationale, help, _expected, _actual = problem
    assert f"It returned all {len(messages)} messages: nothing was dropped" in rationale
    assert "Drop the oldest non-system messages" in help


def test_count_tokens_still_a_todo_points_at_the_exercise() -> None:
    error = {"type": "NotImplementedError", "message": "TODO: implement count_tokens"}
    problem = count_problem({"error": error}, 9, [user(0)], MODEL)
    assert problem is not None
    rationale, help = problem
    assert "raised NotImplementedError" in rationale
    assert "This is still a TODO" in help and "exercise/README.md" in help


def as_parts(message: Message) -> Message:
    return {"role": message["role"], "content": [{"type": "text", "text": message["content"]}]}


def test_content_sent_as_text_parts_is_the_same_message(tmp_path: Path) -> None:
    script = script_for(tmp_path)
    requests = [[as_parts(m) for m in full(n)] for n in range(len(LINES))]
    results = {r.id: r for r in evaluate(script, run_of(script, requests))}
    for check in ("system_kept", "under_budget", "oldest_first", "not_over_trimmed",
                  "history_kept", "repl_exits"):  # fmt: skip
        assert results[check].status == "passed", results[check].message


def test_an_oversize_line_sent_as_text_parts_is_still_caught(tmp_path: Path) -> None:
    budget = count_request_tokens([SYSTEM, user(0)], MODEL) - 1  # no line fits, even alone
    script = script_for(tmp_path, budget)
    assert script.oversize
    run = run_of(script, [[SYSTEM, as_parts(user(0))]])
    oversize = result(script, run, "oversize_handled")
    assert oversize.status == "failed"
    assert "but request 1 sent it" in oversize.message
