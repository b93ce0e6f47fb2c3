"""What the checks tell a student, on hand-made runs: the right check fails, with the right hint.

Each test pins one diagnosis that a corpus submission (tests/corpus/) once got wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from grader.cases import load_case
from grader.cases.script import ConversationScript, FunctionScript, TrimSample, make_script
from grader.checks import CheckResult, evaluate
from grader.checks.functions import Formula, count_problem, trim_problem
from grader.run import Call, CaseRun, Outcome, Raised
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
    assert oldest_first.family == "newest_dropped"
    assert "it dropped the newest message, #6 user" in oldest_first.message


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
    assert "request 3 (for line 3)" in under_budget.message
    assert under_budget.family == "content_only"
    assert "when it counts the content only" in under_budget.help


def test_under_budget_says_trim_when_a_trim_is_far_over(tmp_path: Path) -> None:
    budget = count_request_tokens(TRIMMED[2], MODEL) - 40  # more than the overhead
    assert all(count_request_tokens(r, MODEL) <= budget for r in TRIMMED[:2])
    script = script_for(tmp_path, budget)
    under_budget = result(script, run_of(script, TRIMMED), "under_budget")
    assert under_budget.status == "failed"
    assert "request 3 (for line 3)" in under_budget.message
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
    finding = trim_problem(sample, Call(messages, argument_after=messages), MODEL)
    assert finding is not None
    assert f"Nothing was dropped: all {len(messages)} messages were kept" in finding.rationale
    assert "drop the oldest non-system messages" in finding.hint
    assert finding.family == "never_trims"


def test_count_tokens_still_a_todo_points_at_the_exercise() -> None:
    error = Raised("NotImplementedError", "TODO: implement count_tokens")
    problem = count_problem(Call(raised=error), 9)
    assert problem is not None
    rationale, help, family = problem
    assert family == "todo"
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


# --- each wrong blame of issue 9, pinned ----------------------------------------------------------

FUNCTIONS_CASE = 'id = "fn"\nkind = "functions"\nbudget = 400\nseed = 3\nhistories = 18\n'


def functions_script(tmp_path: Path) -> FunctionScript:
    path = tmp_path / "fn.toml"
    path.write_text(FUNCTIONS_CASE, encoding="utf-8")
    script = make_script(load_case(path))
    assert isinstance(script, FunctionScript)
    return script


def test_a_count_bug_on_a_history_that_repeats_a_message_is_not_blamed_on_the_order() -> None:
    """A generated history may repeat a message word for word; a trim that keeps one message too
    many (its count misses the 3 priming tokens) is told so, never "changed the order"."""
    globe = {"role": "assistant", "content": "🌏"}
    messages = [SYSTEM]
    for n in range(7):
        messages += [{"role": "user", "content": f"Where is {n}? " + "far " * 20}, dict(globe)]
    messages.append({"role": "user", "content": "And now?"})
    correct = [SYSTEM, *messages[5:]]
    kept = [SYSTEM, *messages[4:]]  # one more: the repeated reply, 6 tokens
    budget = count_request_tokens(correct, MODEL) + 3  # a correct trim drops 4 exactly
    assert count_request_tokens(kept, MODEL) - 3 <= budget  # what a count without priming sees
    finding = trim_problem(
        TrimSample("repeats", messages, budget), Call(kept, argument_after=messages), MODEL
    )
    assert finding is not None
    assert finding.family == "over_budget"
    assert "order" not in finding.rationale + finding.hint
    # One numbering, by position: the repeated reply kept is #5, not the first equal one (#3).
    assert finding.actual is not None and finding.actual.startswith("[#1 system, #5 assistant")


def test_a_missing_plus_one_for_a_name_gets_the_name_hint(tmp_path: Path) -> None:
    script = functions_script(tmp_path)
    no_name = Formula(per_name=0)
    run = CaseRun(script, Outcome("returned"), loaded=True)
    run.results["count_tokens"] = {
        i: {"value": no_name.count(m, MODEL)} for i, m in enumerate(script.count_samples)
    }
    count = next(r for r in evaluate(script, run) if r.id == "count_tokens")
    assert count.status == "failed"
    assert count.family == "no_name"
    assert "name costs 1 token more" in count.help
    assert "role" not in count.help


def test_counts_off_by_varying_amounts_ask_about_estimating(tmp_path: Path) -> None:
    script = functions_script(tmp_path)
    run = CaseRun(script, Outcome("returned"), loaded=True)
    run.results["count_tokens"] = {
        i: {"value": count_request_tokens(m, MODEL) + (i % 3) * 5 - 2}
        for i, m in enumerate(script.count_samples)
    }
    count = next(r for r in evaluate(script, run) if r.id == "count_tokens")
    assert count.family == "no_match"
    assert "Are you estimating instead of encoding with tiktoken?" in count.help


def test_a_crash_on_a_special_token_in_main_is_shown_where_it_happened(tmp_path: Path) -> None:
    """The REPL crashed on line 2: the report says so, with the exception and the student's
    frame, not "line 2 was never sent" and "send one request per line"."""
    script = script_for(tmp_path)
    error = {
        "type": "ValueError",
        "bases": ["ValueError", "Exception"],
        "message": "Encountered text corresponding to disallowed special token '<|endoftext|>'.",
        "traceback": "chat_repl.py, line 12, in count_tokens\n    total += len(enc.encode(text))\n",
    }
    run = run_of(script, [full(0)], Outcome("raised", error=error))
    repl = result(script, run, "repl_exits")
    assert repl.status == "failed"
    assert repl.message.startswith("main() crashed on input line 2")
    assert repl.family == "special_tokens"
    assert "disallowed_special=()" in repl.help
    assert repl.where is not None and "line 12, in count_tokens" in repl.where
    assert "Send one request per line" not in repl.help


def test_a_busy_loop_after_the_first_line_is_not_given_the_eof_hint(tmp_path: Path) -> None:
    script = script_for(tmp_path)
    run = run_of(script, [full(0)], Outcome("timeout", "did not finish within 20 s"))
    repl = result(script, run, "repl_exits")
    assert repl.family == "stuck"
    assert "after request 1 (for line 1), line 2 was never sent" in repl.message
    assert "EOFError" not in repl.help


def test_a_fixed_window_is_not_told_to_count_3_per_message(tmp_path: Path) -> None:
    """Every request keeps the newest 3 messages, though all would fit: the hint names the
    window, not the per-message 3 tokens."""
    budget = count_request_tokens(full(3), MODEL) + 100
    script = script_for(tmp_path, budget)
    window = [[SYSTEM, *full(n)[1:][-3:]] for n in range(4)]
    run = run_of(script, window)
    failed = [r for r in evaluate(script, run) if r.status == "failed"]
    assert [r.id for r in failed] == ["not_over_trimmed"]
    assert failed[0].family == "fixed_window"
    assert "kept exactly 3 messages" in failed[0].help
    assert "3 tokens" not in failed[0].help


def test_a_line_never_sent_shows_what_the_repl_printed_for_it_not_the_next_prompt(
    tmp_path: Path,
) -> None:
    """The REPL printed a four-line error for line 2 and went on: the report quotes its first
    line, counts the rest, and leaves out the prompt it printed for line 3."""
    script = script_for(tmp_path)
    run = run_of(script, [full(0)])
    run.preamble = "you> "
    printed = "error: disallowed special token\nIf you want...\npass `allowed_special`\nor not\n"
    run.turns = ["bot> Reply 0\nyou> ", printed + "you> ", "you> "]
    run.lines_read, run.read_eof = 3, True
    repl = result(script, run, "repl_exits")
    assert repl.family == "unsent"
    assert repl.actual == "error: disallowed special token\n(and 3 more lines of output)"


def test_a_loop_that_hangs_after_answering_a_line_says_so_and_points_at_the_loop(
    tmp_path: Path,
) -> None:
    script = script_for(tmp_path)
    stack = "chat_repl.py, line 9, in main\n    while len(history) > 2:"
    run = run_of(script, [full(0)], Outcome("stalled", "stuck", stack=stack))
    run.lines_read = 1
    repl = result(script, run, "repl_exits")
    assert repl.family == "stuck"
    assert "it answered input line 1 ('Question 1:" in repl.message
    assert repl.message.endswith("then never read line 2.")
    assert "The loop shown below never ends" in repl.help
    assert repl.where == stack


def test_an_unexpected_crash_gets_a_hint_that_says_what_the_exception_means(
    tmp_path: Path,
) -> None:
    script = script_for(tmp_path)
    error = {"type": "IndexError", "bases": ["IndexError", "LookupError", "Exception"],
             "message": "list index out of range",
             "traceback": "chat_repl.py, line 55, in main\n    print(history[10])\n"}  # fmt: skip
    run = run_of(script, [full(0)], Outcome("raised", error=error))
    run.lines_read = 2
    repl = result(script, run, "repl_exits")
    assert repl.message.startswith("main() crashed on input line 2")
    assert "an index past the end of a list" in repl.help
    assert repl.where == "chat_repl.py, line 55, in main\n    print(history[10])"
