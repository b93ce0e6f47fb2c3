"""Reports: coloured text for people, JSON for scripts, Gradescope's results.json, JUnit XML,
and a self-contained HTML page (report/html.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from itertools import groupby
from typing import Any
from xml.etree import ElementTree as ET

import click

from grader.checks import CheckResult, skipped_line
from grader.grading import SubmissionReport
from grader.i18n import _, current, ngettext
from grader.report.chart import ConversationChart, sparkline

FORMATS = ("text", "json", "gradescope", "junit", "html")
SYMBOLS = {"passed": (":)", "green"), "failed": (":(", "red"), "skipped": (":|", "yellow")}


def render(reports: Sequence[SubmissionReport], fmt: str, color: bool | None = None) -> str:
    if fmt == "json":
        payload: Any = [as_json(r) for r in reports]
        return json.dumps(
            payload[0] if len(payload) == 1 else payload, indent=2, ensure_ascii=False
        )
    if fmt == "gradescope":
        if len(reports) != 1:
            raise click.UsageError("--format gradescope takes exactly one submission")
        return json.dumps(as_gradescope(reports[0]), indent=2, ensure_ascii=False)
    if fmt == "junit":
        return as_junit(reports)
    if fmt == "html":
        from grader.report.html import as_html

        return as_html(reports)
    return "\n".join(as_text(r, color) for r in reports)


def as_text(report: SubmissionReport, color: bool | None = None) -> str:
    """The report a student reads: the first failure leads, what follows from it is one line.

    Checks skipped for the same reason collapse into one line; a failure identical to one in an
    earlier case says so instead of repeating itself.
    """
    out: list[str] = []

    def say(text: str = "", **style: Any) -> None:
        out.append(click.style(text, **style) if color is not False and style else text)

    heading = (
        _("Grading {name}").format(name=report.name)
        if str(report.path) == report.name
        else _("Grading {name} ({path})").format(name=report.name, path=report.path)
    )
    say(heading, bold=True)
    if report.error:
        say(f":( {report.error}", fg="red")
        return "\n".join(out)
    say(_(":) passed   :( failed   :| skipped, because a check it needs did not pass"), dim=True)
    seen: dict[tuple[str, ...], str] = {}
    gates_shown: set[str] = set()
    cases = [(case, list(group)) for case, group in groupby(report.results, key=lambda r: r.case)]
    full: list[tuple[str, list[CheckResult]]] = []  # cases shown in full, to compare with
    collapsed = False
    for case, results in cases:
        same = next(((ref, extra) for ref, earlier in full
                     if (extra := repeats(results, earlier)) is not None), None)  # fmt: skip
        shape = shape_line(report, case, color)
        earned, worth = sum(r.score for r in results), sum(r.max_score for r in results)
        points = ngettext(
            "{score} / {max} point", "{score} / {max} points", 1 if round(worth, 2) == 1 else 2
        ).format(score=format_points(earned), max=format_points(worth))
        if same is not None:
            ref, extra = same
            if not collapsed:
                say()
            collapsed = True
            sentence = _("case {case}: the same as case {ref}").format(case=case, ref=ref)
            more = _(", and:") if extra else ""
            say(f"{sentence}{more}  ({points})", bold=True)
            if shape and report.charts[case].bars:
                say(shape)
            for result in extra:
                if result.status == "skipped":
                    say_skipped([result], say)
                else:
                    show_result(result, seen, say)
            continue
        full.append((case, results))
        collapsed = False
        say()
        if all(r.passed for r in results):  # nothing to read but that it passed
            gates_shown.update(r.id for r in results)
            symbol, colour = SYMBOLS["passed"]
            passed = _("case {case}: every check passed").format(case=case)
            say(f"{symbol} {passed}  ({points})", fg=colour, bold=True)
            if shape:
                say(shape)
            continue
        say(_("case {case}").format(case=case) + f"  ({points})", bold=True)
        if shape:
            say(shape)
        for cause, group in groupby(results, key=lambda r: r.cause):
            items = list(group)
            if cause is not None:
                say_skipped(items, say)
                continue
            shown = [
                r for r in items if not (r.passed and r.max_score == 0 and r.id in gates_shown)
            ]  # a gate that passed is news once
            gates_shown.update(r.id for r in items)
            for passed, run in groupby(shown, key=lambda r: r.passed):
                results_ = list(run)
                if passed and len(results_) > 1:
                    symbol, colour = SYMBOLS["passed"]
                    ids = ", ".join(r.id for r in results_)
                    say(f"{symbol} " + _("passed: {checks}").format(checks=ids), fg=colour)
                    continue
                for result in results_:
                    show_result(result, seen, say)
    say()
    failed = sum(r.status == "failed" for r in report.results)
    skipped = sum(r.status == "skipped" for r in report.results)
    verdict = (
        _("all checks passed")
        if report.passed
        else ngettext("{n} check failed", "{n} checks failed", failed).format(n=failed)
        + (", " + _("{n} skipped").format(n=skipped) if skipped else "")
        + " "
        + _("(each check counted once per case)")
    )
    say(
        _("score {score} / {max}: {verdict}").format(
            score=format_points(report.score), max=format_points(report.max_score), verdict=verdict
        ),
        bold=True,
        fg="green" if report.passed else "red",
    )
    return "\n".join(out)


def say_skipped(items: Sequence[CheckResult], say: Any) -> None:
    """Checks skipped for one reason, in one line."""
    symbol, colour = SYMBOLS["skipped"]
    if len(items) == 1:
        line = _("{check} skipped: {reason}").format(check=items[0].id, reason=items[0].message)
    else:
        line = skipped_line(len(items), items[0].message)
    say(f"{symbol} {line}", fg=colour)


def failure_key(result: CheckResult) -> tuple[str, ...]:
    """The same mistake, met again: the same cause and evidence, if not the same line or
    numbers (a failure with no named cause must match word for word)."""
    key = (result.id, result.family, result.help)
    if not result.family:
        key = (*key, result.message, str(result.expected), str(result.actual))
    return key


def result_key(result: CheckResult) -> tuple[str | None, ...]:
    if result.status == "failed":
        return ("failed", *failure_key(result))
    return (result.status, result.id, result.cause)


def repeats(
    results: Sequence[CheckResult], earlier: Sequence[CheckResult]
) -> list[CheckResult] | None:
    """Whether a case tells nothing that an earlier one did not: the same failures, and skips
    the earlier case has or that follow from them. Returns what is here alone (checks that
    passed, skips that follow from the same failure), to show; None when the case has news, or
    no failure at all."""
    keys = {result_key(r) for r in earlier}
    told_skips = {r.cause for r in earlier if r.status == "skipped"}
    covered: set[str] = set()
    extra: list[CheckResult] = []
    for result in results:
        if result_key(result) in keys:
            covered.add(result.id)
            if result.cause:
                covered.add(result.cause)  # what blocks one skip here blocks the others alike
        elif result.status == "skipped" and result.cause in covered:
            covered.add(result.id)
            if result.cause not in told_skips:
                extra.append(result)  # it follows from the same failure, but no skip said so
        elif result.passed:
            extra.append(result)
        else:
            return None
    failed = {result_key(r) for r in results if r.status == "failed"}
    # ... and every failure of the earlier case is here too: "the same" means the same.
    if not failed or any(result_key(r) not in failed for r in earlier if r.status == "failed"):
        return None
    return extra


def show_result(result: CheckResult, seen: dict[tuple[str, ...], str], say: Any) -> None:
    symbol, colour = SYMBOLS[result.status]
    if result.status == "passed":
        say(f"{symbol} {result.id}: {result.description}", fg=colour)
        return
    key = failure_key(result)
    if key in seen:
        same = _("the same cause as in case {case}").format(case=seen[key])
        say(f"{symbol} {result.id}: {same}", fg=colour)
        return
    seen[key] = result.case
    say(f"{symbol} {result.id}: {result.description}", fg=colour)
    for line in result.message.splitlines():
        say(f"    {line}", fg=colour)
    hint = result.help
    follows = result.family.startswith("follows:")
    if follows:
        told = ("follows", result.family)
        if told in seen:  # the cause was named once: say it shortly
            hint = _("This too probably follows from {check} failing above.").format(
                check=result.family.split(":", 1)[1]
            )
        seen[told] = result.case
    if hint:
        say("    " + _("hint: {hint}").format(hint=hint), fg="cyan")
    if result.where is not None:
        say_block(_("where:"), result.where, say)
    if follows:
        return  # a consequence: its numbers are in the message; the lists are the cause's to show
    if result.expected is not None:
        say("    " + _("expected: {value}").format(value=result.expected))
    if result.actual is not None:
        say_block(_("actual:"), result.actual, say)


def say_block(label: str, text: str, say: Any) -> None:
    """A labelled value of several lines, its lines under the first."""
    for i, line in enumerate(text.splitlines()):
        say(f"    {label if i == 0 else ' ' * len(label)} {line}".rstrip())


def shape_line(report: SubmissionReport, case: str, color: bool | None) -> str | None:
    """A conversation case's tokens per request, one block each (report/chart.py)."""
    chart = report.charts.get(case)
    return f"   {sparkline(chart, color)}" if isinstance(chart, ConversationChart) else None


def format_points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def as_json(report: SubmissionReport) -> dict[str, Any]:
    return {
        "submission": report.name,
        "path": str(report.path),
        "language": current(),
        "passed": report.passed,
        "score": report.score,
        "max_score": report.max_score,
        "error": report.error,
        "checks": [check_json(r) for r in report.results],
        "sandbox": sandbox_json(report),
    }


def sandbox_json(report: SubmissionReport) -> dict[str, Any]:
    """Which fences held while grading, and what did not: a verdict says how it was made."""
    return {"fences": report.fence, "weaker": report.weaker}


def check_json(result: CheckResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "case": result.case,
        "passed": result.passed,
        "status": result.status,
        "message": result.message,
        "help": result.help,
        "expected": result.expected,
        "actual": result.actual,
        "where": result.where,
        "family": result.family,
        "score": round(result.score, 4),
        "max_score": round(result.max_score, 4),
    }


def detail(result: CheckResult) -> str:
    lines = [result.message]
    if result.help:
        lines.append(_("hint: {hint}").format(hint=result.help))
    if result.where is not None:  # in the order the text report shows them
        lines.append(_("where:") + f" {result.where}")
    if result.expected is not None:
        lines.append(_("expected: {value}").format(value=result.expected))
    if result.actual is not None:
        lines.append(_("actual:") + f" {result.actual}")
    return "\n".join(lines)


def as_gradescope(report: SubmissionReport) -> dict[str, Any]:
    """Gradescope's results.json; tests of hidden cases are marked hidden."""
    extra = {"extra_data": {"sandbox": sandbox_json(report)}}
    if report.error:
        return {"score": 0, "output": report.error, "tests": [], **extra}
    tests = []
    visible = [r for r in report.results if r.visibility != "hidden"]
    for number, result in enumerate(report.results, start=1):
        tests.append(
            {
                "name": f"{result.case}: {result.id} — {result.description}",
                "number": str(number),
                "score": round(result.score, 4),
                "max_score": round(result.max_score, 4),
                "status": "passed" if result.passed else "failed",
                "output": detail(result),
                "visibility": "hidden" if result.visibility == "hidden" else "visible",
            }
        )
    return {
        "score": report.score,
        "execution_time": round(report.seconds, 2),
        # Counted over visible checks only: the summary must not reveal hidden ones.
        **gradescope_summary(report, visible),
        "stdout_visibility": "hidden",
        "tests": tests,
        **extra,
    }


def gradescope_summary(report: SubmissionReport, visible: list[CheckResult]) -> dict[str, str]:
    """The top-level output: the summary, and the visible cases' token charts as HTML."""
    from grader.report.html import gradescope_output

    return {"output": gradescope_output(report, visible), "output_format": "html"}


def as_junit(reports: Sequence[SubmissionReport]) -> str:
    root = ET.Element("testsuites", name="trimlab")
    for report in reports:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=report.name,
            tests=str(len(report.results)),
            failures=str(sum(r.status == "failed" for r in report.results)),
            skipped=str(sum(r.status == "skipped" for r in report.results)),
            errors="1" if report.error else "0",
            time=f"{report.seconds:.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="sandbox", value=report.fence)
        for gap in report.weaker:
            ET.SubElement(properties, "property", name="sandbox-weaker", value=gap)
        if report.error:
            case = ET.SubElement(suite, "testcase", classname=report.name, name="submission")
            ET.SubElement(case, "error", message=report.error)
        for result in report.results:
            case = ET.SubElement(
                suite, "testcase", classname=f"{report.name}.{result.case}", name=result.id
            )
            if result.status == "failed":
                ET.SubElement(case, "failure", message=result.message[:500]).text = detail(result)
            elif result.status == "skipped":
                ET.SubElement(case, "skipped", message=result.message[:500])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def summary_csv(reports: Sequence[SubmissionReport]) -> str:
    """One row per submission: what an instructor pastes into a grade sheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "score", "max_score", "failed_checks", "error"])
    for report in reports:
        writer.writerow(
            [
                report.name,
                format_points(report.score),
                format_points(report.max_score),
                " ".join(report.failed_checks),
                report.error or "",
            ]
        )
    return buffer.getvalue()
