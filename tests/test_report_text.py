"""The text report's rule for repeats: a case is 'the same as' an earlier one only when it
tells nothing new, and what it does add (a check passed here alone, a skip no earlier case
told) is still shown."""

from __future__ import annotations

from grader.checks import CheckResult
from grader.report.formats import repeats


def result(case: str, id_: str, status: str = "passed", **more: str) -> CheckResult:
    return CheckResult(id_, case, f"{id_} holds", status, more.pop("message", ""), **more)  # type: ignore[arg-type]


def crash(case: str) -> CheckResult:
    return result(case, "repl_exits", "failed", message="crashed", help="catch it", family="crash")


def test_the_same_failures_make_the_same_case() -> None:
    earlier = [
        crash("a"),
        result("a", "system_kept"),
        result("a", "history_kept", "skipped", cause="repl_exits"),
    ]
    later = [
        crash("b"),
        result("b", "system_kept"),
        result("b", "history_kept", "skipped", cause="repl_exits"),
    ]
    assert repeats(later, earlier) == []


def test_a_check_passed_here_alone_and_a_skip_no_case_told_are_shown() -> None:
    earlier = [crash("a"), result("a", "system_kept")]
    extra_pass = result("b", "under_budget")
    extra_skip = result("b", "oversize_handled", "skipped", cause="repl_exits")
    assert repeats([crash("b"), extra_pass, extra_skip], earlier) == [extra_pass, extra_skip]


def test_another_failure_is_news() -> None:
    earlier = [crash("a"), result("a", "system_kept")]
    other = result("b", "system_kept", "failed", message="moved", family="system_moved")
    assert repeats([crash("b"), other], earlier) is None


def test_the_same_is_not_said_of_a_case_missing_a_failure_of_the_earlier_one() -> None:
    earlier = [
        crash("a"),
        result("a", "oversize_handled", "failed", message="sent", family="oversize_sent"),
    ]
    assert repeats([crash("b")], earlier) is None


def test_a_case_with_no_failure_is_never_the_same_as_another() -> None:
    assert repeats([result("b", "repl_exits")], [result("a", "repl_exits")]) is None
