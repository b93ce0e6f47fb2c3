"""Report stage: one self-contained HTML page, a token chart per conversation case.

Nothing is loaded from anywhere: the style is inline, the charts are inline SVG styled by their
own attributes (so the same chart survives where a host strips <style>, as Gradescope may), and
the page's Content-Security-Policy forbids every fetch. The numbers come from report/chart.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from grader.checks import CheckResult
from grader.grading import SubmissionReport
from grader.i18n import _
from grader.report.chart import (
    Bar,
    ConversationChart,
    FunctionTables,
    SampleRow,
    spans,
    sparkline,
)

# The stacked parts of a bar, bottom up: (attribute of Bar, CSS-free colour, legend).
PARTS = (
    ("pinned", "#64748b", "system/developer messages (pinned) and the reply's 3 tokens"),
    ("history", "#60a5fa", "kept history"),
    ("new", "#22c55e", "the new line"),
)
OVER_COLOUR = "#dc2626"
FLAG_COLOUR = "#fee2e2"
BUDGET_COLOUR = "#111827"
SYMBOLS = {"passed": ("✓", "passed"), "failed": ("✗", "failed"), "skipped": ("–", "skipped")}
MAX_ROWS = 40  # of a failing-sample table; the rest are counted, not shown

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #111827; margin: 0; background: #f9fafb; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 1.5rem 0 0.25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 0.25rem; }
.path, .description { color: #4b5563; margin: 0 0 0.5rem; }
.verdict { font-weight: 600; }
.verdict.passed { color: #15803d; } .verdict.failed { color: #b91c1c; }
section.case { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px;
  padding: 0.25rem 1rem 1rem; margin: 1rem 0; }
ul.checks { list-style: none; padding: 0; margin: 0.5rem 0; }
ul.checks li { margin: 0.25rem 0; }
.symbol { display: inline-block; width: 1.2em; font-weight: 700; }
li.passed .symbol { color: #15803d; } li.failed .symbol { color: #b91c1c; }
li.skipped { color: #6b7280; }
.detail { margin: 0.2rem 0 0.4rem 1.2em; white-space: pre-wrap; font-size: 0.9em; }
.hint { color: #0e7490; }
pre { white-space: pre-wrap; word-break: break-word; background: #f3f4f6; padding: 0.4rem;
  margin: 0.2rem 0; font-size: 0.85em; }
figure { margin: 0.75rem 0; overflow-x: auto; }
figcaption { font-size: 0.85em; color: #374151; }
.key { display: inline-block; width: 0.8em; height: 0.8em; vertical-align: -0.05em;
  margin: 0 0.25em 0 0.75em; }
ol.flagged { margin: 0.25rem 0; padding-left: 1.2rem; }
ol.flagged li { color: #991b1b; margin: 0.2rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.88em; width: 100%; }
th, td { border: 1px solid #e5e7eb; padding: 0.25rem 0.4rem; text-align: left;
  vertical-align: top; }
th { background: #f3f4f6; }
table.summary td.score { text-align: right; }
"""


def as_html(reports: Sequence[SubmissionReport]) -> str:
    """The whole page: every submission, every case."""
    title = reports[0].name if len(reports) == 1 else f"{len(reports)} submissions"
    body = []
    if len(reports) > 1:
        body.append(summary_table(reports))
    body.extend(submission_section(report) for report in reports)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            # No fetch of any kind: the page is whole, offline, from a file.
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>trimlab: {escape(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
        ]
    )


def points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def verdict(report: SubmissionReport) -> str:
    if report.error:
        return "not graded"
    failed = sum(r.status != "passed" for r in report.results)
    return (
        "all checks passed"
        if report.passed
        else f"{failed} check{'' if failed == 1 else 's'} did not pass"
    )


def summary_table(reports: Sequence[SubmissionReport]) -> str:
    rows = "".join(
        f'<tr><td><a href="#{anchor(r.name)}">{escape(r.name)}</a></td>'
        f'<td class="score">{points(r.score)} / {points(r.max_score)}</td>'
        f"<td>{escape(verdict(r))}</td></tr>"
        for r in reports
    )
    passed = sum(r.passed for r in reports)
    return (
        f"<h1>{passed} of {len(reports)} submissions passed every check</h1>"
        '<table class="summary"><tr><th>submission</th><th>score</th><th>result</th></tr>'
        f"{rows}</table>"
    )


def anchor(name: str) -> str:
    return "s-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def submission_section(report: SubmissionReport) -> str:
    state = "passed" if report.passed else "failed"
    parts = [
        f'<section class="submission" id="{anchor(report.name)}">',
        f"<h1>{escape(report.name)}</h1>",
        f'<p class="path">{escape(str(report.path))}</p>',
        f'<p class="verdict {state}">score {points(report.score)} / '
        f"{points(report.max_score)}: {escape(verdict(report))}</p>",
    ]
    if report.error:
        parts.append(f"<pre>{escape(report.error)}</pre>")
    cases: dict[str, list[CheckResult]] = {}
    for result in report.results:
        cases.setdefault(result.case, []).append(result)
    for case, results in cases.items():
        parts.append(case_section(case, results, report.charts.get(case)))
    parts.append("</section>")
    return "\n".join(parts)


def case_section(
    case: str, results: list[CheckResult], chart: ConversationChart | FunctionTables | None
) -> str:
    parts = [f'<section class="case" data-case="{escape(case)}">', f"<h2>case {escape(case)}</h2>"]
    if isinstance(chart, ConversationChart):
        parts.append(figure(chart, results))
    parts.append('<ul class="checks">')
    parts.extend(check_item(r) for r in results)
    parts.append("</ul>")
    if isinstance(chart, FunctionTables):
        parts.append(sample_tables(chart))
    parts.append("</section>")
    return "\n".join(parts)


def check_item(result: CheckResult) -> str:
    symbol, word = SYMBOLS[result.status]
    lines = [
        f'<li class="{result.status}" data-check="{escape(result.id)}">'
        f'<span class="symbol" title="{word}">{symbol}</span>'
        f"<b>{escape(result.id)}</b>: {escape(result.description)}"
    ]
    if result.status != "passed":
        lines.append(f'<div class="detail">{escape(result.message)}')
        if result.help:
            hint = _("hint: {hint}").format(hint=result.help)
            lines.append(f'<div class="hint">{escape(hint)}</div>')
        for label, value in (
            (_("where:"), result.where),
            (_("expected: {value}").format(value=""), result.expected),
            (_("actual:"), result.actual),
        ):
            if value is not None:
                lines.append(f"<div>{escape(label.strip())}</div><pre>{escape(value)}</pre>")
        lines.append("</div>")
    lines.append("</li>")
    return "".join(lines)


def flagged(
    chart: ConversationChart, results: Sequence[CheckResult]
) -> dict[int, list[CheckResult]]:
    """The failed checks that name a request of this chart, by request."""
    numbers = {bar.request for bar in chart.bars}
    found: dict[int, list[CheckResult]] = {}
    for result in results:
        if result.status == "failed" and result.request in numbers:
            found.setdefault(result.request, []).append(result)
    return found


def figure(chart: ConversationChart, results: Sequence[CheckResult]) -> str:
    """The chart, its key, and the message of every request a check failed on, beside it."""
    failures = flagged(chart, results)
    keys = "".join(
        f'<span class="key" style="background:{colour}"></span>{escape(label)}'
        for _, colour, label in PARTS
    )
    over = chart.over
    caption = (
        f"Input tokens per request, by the grader's count, against the budget of "
        f"{chart.budget:,} (the dashed line); under each bar, the messages dropped before it. "
        + (
            f"Over the budget: request{'' if len(over) == 1 else 's'} {spans(over)}."
            if over
            else "No request is over the budget."
        )
    )
    notes = "".join(
        f'<li data-request="{n}"><b>request {n}</b>, {escape(r.id)}: {escape(r.message)}</li>'
        for n, found in sorted(failures.items())
        for r in found
    )
    return (
        f"<figure>{svg_chart(chart, failures)}"
        f"<figcaption>{escape(caption)}<br>{keys}"
        f'<span class="key" style="outline:2px solid {OVER_COLOUR}"></span>over the budget'
        f'<span class="key" style="background:{FLAG_COLOUR}"></span>a check failed here'
        "</figcaption></figure>" + (f'<ol class="flagged">{notes}</ol>' if notes else "")
    )


def nice_ceiling(value: float) -> int:
    """A round number at or above ``value``, for the top of the axis."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * magnitude >= value:
            return int(factor * magnitude)
    return int(10 * magnitude)


def svg_chart(chart: ConversationChart, failures: dict[int, list[CheckResult]]) -> str:
    """A stacked bar per request, the budget as a line: styled by attributes alone."""
    n = max(len(chart.bars), 1)
    slot = min(36.0, max(14.0, 720 / n))
    left, top, plot, below = 64.0, 24.0, 220.0, 44.0
    width = left + slot * n + 16
    height = top + plot + below
    peak = max([bar.tokens for bar in chart.bars] + [chart.budget])
    ceiling = nice_ceiling(peak * 1.08)

    def y(tokens: float) -> float:
        return top + plot - tokens / ceiling * plot

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" data-case="{escape(chart.case)}" '
        f'data-budget="{chart.budget}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" font-family="system-ui, sans-serif" '
        f'font-size="11" aria-label="{escape(f"input tokens per request in case {chart.case}")}">',
        f"<title>{escape(f'case {chart.case}: input tokens per request')}</title>",
        f'<line x1="{left}" y1="{top + plot}" x2="{width - 8:.1f}" y2="{top + plot}" '
        'stroke="#9ca3af"/>',
        f'<text x="{left - 6}" y="{top + plot + 4}" text-anchor="end" fill="#4b5563">0</text>',
        f'<text x="{left - 6}" y="{y(ceiling) + 4:.1f}" text-anchor="end" fill="#4b5563">'
        f"{ceiling:,}</text>",
        f'<text x="{left - 6}" y="{top + plot + 30}" text-anchor="end" fill="#4b5563">'
        "dropped</text>",
    ]
    label_every = max(1, math.ceil(22 / slot))
    for index, bar in enumerate(chart.bars):
        x = left + index * slot
        out.append(bar_group(bar, x, slot, y, top, plot, failures.get(bar.request, [])))
        if bar.request == 1 or bar.request % label_every == 0:
            out.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot + 14}" text-anchor="middle" '
                f'fill="#4b5563">{bar.request}</text>'
            )
    if not chart.bars:
        out.append(
            f'<text x="{left + 8}" y="{top + plot / 2}" fill="#4b5563">no request was sent</text>'
        )
    budget_y = y(chart.budget)
    out.append(
        f'<line class="budget" data-tokens="{chart.budget}" x1="{left}" y1="{budget_y:.1f}" '
        f'x2="{width - 8:.1f}" y2="{budget_y:.1f}" stroke="{BUDGET_COLOUR}" stroke-width="1.5" '
        'stroke-dasharray="6 4"/>'
    )
    out.append(
        f'<text x="{left - 6}" y="{budget_y + 4:.1f}" text-anchor="end" font-weight="600" '
        f'fill="{BUDGET_COLOUR}">{chart.budget:,}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def bar_group(
    bar: Bar,
    x: float,
    slot: float,
    y: Callable[[float], float],
    top: float,
    plot: float,
    failures: list[CheckResult],
) -> str:
    """One request's mark: its stacked parts, its outline when over, its dropped count."""
    width = slot * 0.72
    left = x + (slot - width) / 2
    failed = " ".join(r.id for r in failures)
    tooltip = (
        f"request {bar.request}: {bar.tokens:,} tokens (pinned {bar.pinned:,}, history "
        f"{bar.history:,}, new line {bar.new:,}); {bar.dropped} dropped"
        + (
            f"; over the budget of {bar.budget:,} by {bar.tokens - bar.budget:,}"
            if bar.over
            else ""
        )
        + "".join(f"\n{r.id}: {r.message}" for r in failures)
    )
    out = [
        f'<g class="request{" over" if bar.over else ""}{" failed" if failures else ""}" '
        f'data-request="{bar.request}" data-tokens="{bar.tokens}" '
        f'data-over="{"true" if bar.over else "false"}" data-dropped="{bar.dropped}"'
        + (f' data-failed="{escape(failed)}"' if failures else "")
        + ">",
        f"<title>{escape(tooltip)}</title>",
    ]
    if failures:
        out.append(
            f'<rect class="flag" x="{x:.1f}" y="{top}" width="{slot:.1f}" height="{plot}" '
            f'fill="{FLAG_COLOUR}"/>'
        )
    base = 0
    for attribute, colour, _name in PARTS:
        size = getattr(bar, attribute)
        if size <= 0:
            continue
        out.append(
            f'<rect class="{attribute}" x="{left:.1f}" y="{y(base + size):.1f}" '
            f'width="{width:.1f}" height="{y(base) - y(base + size):.1f}" fill="{colour}"/>'
        )
        base += size
    if bar.over:
        out.append(
            f'<rect class="outline" x="{left:.1f}" y="{y(bar.tokens):.1f}" width="{width:.1f}" '
            f'height="{y(0) - y(bar.tokens):.1f}" fill="none" stroke="{OVER_COLOUR}" '
            'stroke-width="2"/>'
        )
    if failures:
        out.append(
            f'<text x="{x + slot / 2:.1f}" y="{y(bar.tokens) - 4:.1f}" text-anchor="middle" '
            f'font-weight="700" fill="{OVER_COLOUR}">!</text>'
        )
    out.append(
        f'<text class="dropped" x="{x + slot / 2:.1f}" y="{top + plot + 30}" '
        f'text-anchor="middle" fill="#374151">{bar.dropped}</text>'
    )
    out.append("</g>")
    return "".join(out)


def sample_tables(tables: FunctionTables) -> str:
    parts = []
    for name, rows, total, what in (
        ("count_tokens", tables.count_rows, tables.count_total, "message lists"),
        ("trim_history", tables.trim_rows, tables.trim_total, "histories"),
    ):
        if not rows:
            continue
        budget = name == "trim_history"
        head = "<tr><th>#</th><th>input</th>" + ("<th>budget</th>" if budget else "")
        head += "<th>expected</th><th>actual</th><th>what went wrong</th></tr>"
        body = "".join(sample_row(row, budget) for row in rows[:MAX_ROWS])
        more = f"<p>… and {len(rows) - MAX_ROWS} more.</p>" if len(rows) > MAX_ROWS else ""
        parts.append(
            f'<table class="samples" data-function="{name}"><caption>{name} was wrong on '
            f"{len(rows)} of {total} {what}</caption>{head}{body}</table>{more}"
        )
    return "\n".join(parts)


def sample_row(row: SampleRow, budget: bool) -> str:
    cells = [str(row.number), f"{row.label} ({row.messages} messages)"]
    if budget:
        cells.append(f"{row.budget:,}" if row.budget is not None else "")
    cells.extend([row.expected, row.actual, row.problem])
    return (
        f'<tr data-sample="{row.number}">'
        + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
        + "</tr>"
    )


def gradescope_output(report: SubmissionReport, visible: Sequence[CheckResult]) -> str:
    """Gradescope's top-level output as HTML: the summary, and the chart of each visible case.

    Hidden cases' checks are not in ``visible``: neither their count nor their charts show."""
    parts = [
        "<p>"
        + escape(
            _("trimlab: {passed} of {total} visible checks passed").format(
                passed=sum(r.passed for r in visible), total=len(visible)
            )
        )
        + "</p>"
    ]
    cases: dict[str, list[CheckResult]] = {}
    for result in visible:
        cases.setdefault(result.case, []).append(result)
    for case, results in cases.items():
        chart = report.charts.get(case)
        if isinstance(chart, ConversationChart):
            # The text line too: Gradescope sanitizes HTML, and may remove the SVG.
            line = escape(sparkline(chart, color=False))
            parts.append(f"<h3>case {escape(case)}</h3>{figure(chart, results)}<pre>{line}</pre>")
    return "\n".join(parts)
