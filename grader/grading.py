"""One submission through every case: scripts in, check results out."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.cases import Case
from grader.cases.script import Script, make_script
from grader.checks import CheckResult, evaluate, validate
from grader.report.chart import CaseChart, case_chart
from grader.sandbox.runner import Limits, Sandbox
from grader.submission import SubmissionError


@dataclass
class SubmissionReport:
    name: str
    path: Path
    results: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # the submission could not be graded at all
    outputs: dict[str, str] = field(default_factory=dict)  # what each case printed
    charts: dict[str, CaseChart] = field(default_factory=dict)  # each case's shape, to draw
    seconds: float = 0.0
    fence: str = ""  # the sandbox's fences that held, as it names them
    weaker: list[str] = field(default_factory=list)  # and what did not hold, in words

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 4)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_score for r in self.results), 4)

    @property
    def passed(self) -> bool:
        return self.error is None and all(r.passed for r in self.results)

    @property
    def failed_checks(self) -> list[str]:
        """case:check of every failure (skipped checks follow from these)."""
        return [f"{r.case}:{r.id}" for r in self.results if r.status == "failed"]


def make_scripts(cases: Sequence[Case], seed: int | None = None) -> list[Script]:
    """The cases' scripts; a case naming a check its script gives nothing to judge is refused."""
    scripts = [make_script(case, seed) for case in cases]
    for script in scripts:
        validate(script)
    return scripts


def grade_submission(
    path: Path,
    cases: Sequence[Case],
    scripts: Sequence[Script] | None = None,
    seed: int | None = None,
    limits: Limits | None = None,
    name: str | None = None,
    sandbox: Sandbox | None = None,
) -> SubmissionReport:
    """Grade one submission. Never raises for anything the submission does.

    ``sandbox``: one already started (and left open), so that its worker warmed up while the
    caller loaded the cases and made the scripts, or graded the submission before.
    """
    started = time.monotonic()
    report = SubmissionReport(name or display_name(path), path)
    own = sandbox is None
    sandbox = sandbox or Sandbox(limits)  # the worker warms up while scripts are made
    try:
        try:
            submission = sandbox.stage(path)
        except SubmissionError as exc:
            report.error = str(exc)
            return report
        if scripts is None:
            scripts = make_scripts(cases, seed)
        try:
            runs = sandbox.run_cases(scripts, submission)
        finally:  # the next submission in this sandbox must not find this one
            shutil.rmtree(submission.staged, ignore_errors=True)
        for script, run in zip(scripts, runs, strict=True):
            report.results.extend(evaluate(script, run, report.results))
            report.outputs[script.case.id] = run.output
            chart = case_chart(script, run)
            if chart is not None:
                report.charts[script.case.id] = chart
        report.fence, report.weaker = sandbox.fence, list(sandbox.missing_fences)
    finally:
        if own:
            sandbox.close()
    report.seconds = time.monotonic() - started
    return report


def display_name(path: Path) -> str:
    path = Path(os.path.abspath(path.expanduser()))  # a link's own name, not its target's
    return path.parent.name if path.name == "chat_repl.py" else path.name
