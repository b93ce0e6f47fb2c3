"""Judging: checks declared once, in the manner of check50, over a case's script and run.

``@check(...)`` is the only registry. The decorator names a check's case kind, when it applies,
what it depends on, and its words (what it checks, what passing means for the docs' tables, and
why its dependents are skipped when it fails). Declaration order is evaluation order and report
order; a check may depend only on checks declared before it. A check returns quietly (or with a
note) when it passes, or raises ``Failure`` with the numbers, a hint, and the hint's family: the
name of the cause the evidence points to, which the tests hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from grader.cases.parse import KINDS as CASE_KINDS
from grader.cases.parse import CaseError, CaseKind
from grader.cases.script import ConversationScript, FunctionScript, Script
from grader.i18n import _, ngettext
from grader.run import CaseRun

Status = Literal["passed", "failed", "skipped"]
Kind = Literal[CaseKind, "any"]  # a check's: a case's kind, or "any"
KINDS: tuple[Kind, ...] = (*CASE_KINDS, "any")
CheckFunction = Callable[[Any, CaseRun], "str | None"]


class Failure(Exception):
    """A check's verdict: what happened (with the numbers), a hint, and the hint's family."""

    def __init__(
        self,
        rationale: str,
        help: str = "",
        expected: Any = None,
        actual: Any = None,
        family: str = "",
        request: int | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(rationale)
        self.rationale, self.help, self.family = rationale, help, family
        self.expected, self.actual = expected, actual
        self.where = where  # the student's code it happened in: a frame, or a stack
        self.request = request  # the request (from 1) it is about, for the report's chart


# Families that describe what a failure looks like, not why: when an earlier check this one
# follows failed, that failure is the likelier cause, and the hint says so instead. So does a
# failure whose cause is the very one an earlier check already named (the same family).
SYMPTOMS = frozenset(
    {"", "other", "over_budget", "over_trimmed", "never_returned", "no_match", "estimate",
     "never_trims", "fixed_window", "clears_history", "budget_ignored", "oversize_sent", "unsent",
     "no_priming", "no_name", "no_role", "no_per_message", "parts_skipped", "content_only",
     "no_overhead", "no_per_message_no_priming"}
)  # fmt: skip


# Causes each check meets on its own even when an earlier one met the same: every function of
# the exercise is a TODO of its own.
OWN_CAUSES = frozenset({"todo"})


def always(script: Script) -> bool:
    return True


@dataclass(frozen=True)
class Check:
    id: str
    kind: Kind
    description: str  # marked for the catalog: what is checked, one line
    doc: str  # marked: when it passes, for the docs' tables
    depends: tuple[str, ...]
    applies: Callable[[Script], bool]
    when: str  # marked: the condition ``applies`` tests, for the docs ("" when always)
    blocks: str  # marked: why its dependents are skipped when it does not pass
    follows: tuple[str, ...]  # earlier checks whose failure would explain this one's
    scored: bool  # False: a gate (loads), worth no points
    reported: bool  # False: an internal gate, shown only through its dependents' skip line
    run: CheckFunction

    def takes(self, script: Script) -> bool:
        """Whether this check judges the script: its kind, and the case's own condition."""
        return self.kind in (script.kind, "any") and self.applies(script)


CHECKS: dict[str, Check] = {}


def check(
    *,
    kind: Kind,
    description: str,
    doc: str = "",
    depends: Sequence[str] = ("loads",),
    applies: Callable[[Script], bool] = always,
    when: str = "",
    blocks: str = "",
    follows: Sequence[str] = (),
    scored: bool = True,
    reported: bool = True,
) -> Callable[[CheckFunction], CheckFunction]:
    """Declare a check; its id is the function's name. Mark the words with ``N_``."""

    def register(function: CheckFunction) -> CheckFunction:
        id_ = function.__name__
        if id_ in CHECKS:
            raise ValueError(f"check {id_!r} is declared twice")
        if kind not in KINDS:
            raise ValueError(f"check {id_!r}: kind must be one of {', '.join(KINDS)}")
        for name in (*depends, *follows):
            if name not in CHECKS:
                raise ValueError(
                    f"check {id_!r} names {name!r}, which is not declared before it; "
                    f"declared so far: {', '.join(CHECKS)}"
                )
        CHECKS[id_] = Check(
            id_, kind, description, doc or description, tuple(depends), applies, when,
            blocks, tuple(follows), scored, reported, function,
        )  # fmt: skip
        return function

    return register


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
    family: str = ""  # the cause the hint names; "" when none
    cause: str | None = None  # skipped: the check whose failure blocked this one
    request: int | None = None  # the request (from 1) a failure is about, if one
    where: str | None = None  # the student's own code it happened in, "file, line N, in f"

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def checks_for(kind: CaseKind, reported_only: bool = True) -> list[Check]:
    """The checks a case of this kind may name, in order."""
    return [
        c for c in CHECKS.values() if c.kind in (kind, "any") and (c.reported or not reported_only)
    ]


def planned(script: Script) -> list[Check]:
    """The checks reported for a script: the case's own list, or every one that applies."""
    named = script.case.checks
    return [c for c in CHECKS.values() if c.reported and c.takes(script) and
            (not named or c.id in named)]  # fmt: skip


def validate(script: Script) -> None:
    """A check the case names must apply to its script; else the case is refused."""
    for id_ in script.case.checks:
        check_ = CHECKS[id_]
        if not check_.applies(script):
            raise CaseError(
                script.case.path,
                f"lists {id_}, which applies only {check_.when}; this case has none "
                f"(budget {script.case.budget})",
                "checks",
            )


def evaluate(
    script: Script, run: CaseRun, earlier: Sequence[CheckResult] = ()
) -> list[CheckResult]:
    """Every check that takes the script, in declaration order; the planned ones are reported.

    ``earlier``: this submission's results in the cases before, so that a failure explained by
    one of them says so instead of guessing a second cause.
    """
    case = script.case
    done: dict[str, CheckResult] = {}
    for check_ in CHECKS.values():
        if not check_.takes(script):
            continue
        done[check_.id] = judge(check_, script, run, done, [*earlier, *done.values()])
    wanted = planned(script)
    scored = [c for c in wanted if c.scored]
    share = case.points / len(scored) if scored else 0.0
    results = []
    for check_ in wanted:
        result = done[check_.id]
        points = share if check_.scored else 0.0
        results.append(
            replace(
                result,
                score=points if result.passed else 0.0,
                max_score=points,
                visibility=case.visibility,
            )
        )
    return results


def judge(
    check_: Check,
    script: Script,
    run: CaseRun,
    done: dict[str, CheckResult],
    before: Sequence[CheckResult],
) -> CheckResult:
    base = CheckResult(check_.id, script.case.id, _(check_.description), "passed", "")
    blocked = [done[d] for d in check_.depends if d in done and not done[d].passed]
    if blocked:
        first = blocked[0]
        cause = first.cause if first.status == "skipped" else first.id
        assert cause is not None
        return replace(base, status="skipped", message=skip_reason(cause), cause=cause)
    try:
        note = check_.run(script, run)
    except Failure as failure:
        help, family = failure.help, failure.family
        culprit = next((r for r in before if r.id in check_.follows and r.status == "failed"), None)
        if culprit is not None and (
            family in SYMPTOMS or (family == culprit.family and family not in OWN_CAUSES)
        ):
            help = _(
                "This probably follows from {check} failing above (case {case}): fix that first."
            ).format(check=culprit.id, case=culprit.case)
            family = f"follows:{culprit.id}"
        return replace(
            base,
            status="failed",
            message=failure.rationale,
            help=help,
            expected=show(failure.expected),
            actual=show(failure.actual),
            family=family,
            request=failure.request,
            where=failure.where,
        )
    return replace(base, message=note or _(check_.description))


def skip_reason(cause: str) -> str:
    words = CHECKS[cause].blocks
    return _(words) if words else _("{check} did not pass").format(check=cause)


def skipped_line(count: int, reason: str) -> str:
    return ngettext("{n} check skipped: {reason}", "{n} checks skipped: {reason}", count).format(
        n=count, reason=reason
    )


def first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def show(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else repr(value)


def as_conversation(script: Script) -> ConversationScript:
    """A conversation check's script, typed as one (``Check.takes`` gave it no other)."""
    assert script.kind == "conversation", script.kind
    return script


def as_functions(script: Script) -> FunctionScript:
    """A functions check's script, typed as one."""
    assert script.kind == "functions", script.kind
    return script


# Declaration order is evaluation and report order: the gate, the functions, then main().
from grader.checks import loading, functions, conversation  # noqa: E402, F401, I001
