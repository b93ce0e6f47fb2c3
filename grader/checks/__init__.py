"""Checks: small named functions over a case's script and run, in the manner of check50.

A check returns quietly when it passes, or raises ``Failure`` with a rationale that carries
the numbers, a hint a student can act on, and expected-versus-actual where they help. A check
whose prerequisite did not pass is skipped, and says which one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from grader.cases.script import Script
from grader.run import CaseRun

Status = Literal["passed", "failed", "skipped"]


class Failure(Exception):
    def __init__(
        self,
        rationale: str,
        help: str = "",
        expected: Any = None,
        actual: Any = None,
        request: int | None = None,
    ) -> None:
        super().__init__(rationale)
        self.rationale, self.help = rationale, help
        self.expected, self.actual = expected, actual
        self.request = request  # the request (from 1) it is about, for the report's chart


@dataclass(frozen=True)
class Check:
    id: str
    description: str
    kind: str  # the kind of case it judges
    depends: tuple[str, ...]
    run: Callable[[Script, CaseRun], str | None]


@dataclass(frozen=True)
class CheckResult:
    id: str
    case: str
    description: str
    status: Status
    message: str
    help: str = ""
    expected: str | None = None
    actual: str | None = None
    score: float = 0.0
    max_score: float = 0.0
    visibility: str = "visible"
    request: int | None = None  # the request (from 1) a failure is about, if one

    @property
    def passed(self) -> bool:
        return self.status == "passed"


CHECKS: dict[str, Check] = {}


def check(
    id: str, description: str, kind: str, depends: tuple[str, ...] = ("loads",)
) -> Callable[[Callable[[Script, CaseRun], str | None]], Callable[[Script, CaseRun], str | None]]:
    """Register a check; ``kind`` is "functions", "conversation" or "any"."""

    def register(
        function: Callable[[Script, CaseRun], str | None],
    ) -> Callable[[Script, CaseRun], str | None]:
        CHECKS[id] = Check(id, description, kind, depends, function)
        return function

    return register


def evaluate(script: Script, run: CaseRun) -> list[CheckResult]:
    """Every check of the case's kind, in registry order; those the case lists are reported."""
    case = script.case
    wanted = script_checks(script)
    outcomes: dict[str, tuple[Status, str, Failure | None]] = {}
    for id_ in CHECK_ORDER:
        check_ = CHECKS[id_]
        if check_.kind not in (case.kind, "any"):
            continue
        blocked = [d for d in check_.depends if outcomes.get(d, ("passed",))[0] != "passed"]
        if blocked:
            reason = outcomes[blocked[0]][1]
            outcomes[check_.id] = (
                "skipped",
                f"skipped: {blocked[0]} did not pass ({first_line(reason)})",
                None,
            )
            continue
        try:
            note = check_.run(script, run)
        except Failure as failure:
            outcomes[check_.id] = ("failed", failure.rationale, failure)
        else:
            outcomes[check_.id] = ("passed", note or check_.description, None)
    # loads is the gate, not an achievement: the case's points go to the checks after it.
    scored = [c for c in wanted if c != "loads"]
    share = case.points / len(scored) if scored else 0.0
    results = []
    for id_ in wanted:
        status, message, failure = outcomes[id_]
        results.append(
            CheckResult(
                id=id_,
                case=case.id,
                description=CHECKS[id_].description,
                status=status,
                message=message,
                help=failure.help if failure else "",
                expected=show(failure.expected) if failure else None,
                actual=show(failure.actual) if failure else None,
                score=share if status == "passed" and id_ in scored else 0.0,
                max_score=share if id_ in scored else 0.0,
                visibility=case.visibility,
                request=failure.request if failure else None,
            )
        )
    return results


def script_checks(script: Script) -> tuple[str, ...]:
    return script.checks


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 160 else line[:157] + "..."


def compact(names: list[str]) -> str:
    """A list of message labels, its middle elided past a dozen: '[system#0, user#1, …]'."""
    if len(names) > 12:
        names = [*names[:5], f"… {len(names) - 10} more …", *names[-5:]]
    return "[" + ", ".join(names) + "]"


def show(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


# Evaluation order: every check after its prerequisites. requests_sent is never reported; it
# only lets the checks that read requests say why there are none.
CHECK_ORDER = (
    "loads", "count_tokens", "trim_function", "requests_sent", "system_kept", "under_budget",
    "history_kept", "oldest_first", "not_over_trimmed", "oversize_handled", "repl_exits",
)  # fmt: skip

from grader.checks import conversation, functions, loading  # noqa: E402, F401
