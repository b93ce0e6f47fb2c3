"""The report's picture of a run: the chart's numbers against what the mock counted, the text
report's line, the HTML page's marks, and Gradescope's HTML output.

Two submissions are run once for the module, on the shared worker: tests/corpus/no_trimming
(never trims: its bars climb through the budget) and the reference solution (trims: its bars
stay under it while messages are dropped). The page in a real browser is test_report_browser.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.cases import BUILTIN_CASES, load_cases
from grader.cases.script import ConversationScript, FunctionScript, Script, make_script
from grader.checks import evaluate
from grader.grading import SubmissionReport
from grader.report.chart import OVER, STEPS, ConversationChart, FunctionTables, case_chart
from grader.report.formats import as_gradescope, render
from grader.run import CaseRun
from grader.sandbox.runner import Sandbox
from mock_api.tokens import REPLY_PRIMING, count_request_tokens, message_tokens

pytestmark = pytest.mark.xdist_group("report_chart")  # the gradings are made once, in one process

REPO = Path(__file__).resolve().parent.parent
SUBMISSIONS = {
    "no_trimming": REPO / "tests" / "corpus" / "no_trimming",
    "solution": REPO / "solution",
}


@dataclass
class Graded:
    scripts: list[Script]
    runs: list[CaseRun]
    report: SubmissionReport

    def conversations(self) -> list[tuple[ConversationScript, CaseRun, ConversationChart]]:
        found = []
        for script, run in zip(self.scripts, self.runs, strict=True):
            if isinstance(script, ConversationScript):
                chart = self.report.charts[script.case.id]
                assert isinstance(chart, ConversationChart)
                found.append((script, run, chart))
        return found


@pytest.fixture(scope="module")
def graded(sandbox: Sandbox) -> dict[str, Graded]:
    """Each submission through the built-in suite, its runs kept to compare with the chart."""
    scripts = [make_script(case) for case in load_cases(BUILTIN_CASES)]
    result = {}
    for name, path in SUBMISSIONS.items():
        runs = sandbox.run_cases(scripts, path)
        report = SubmissionReport(name, path)
        for script, run in zip(scripts, runs, strict=True):
            report.results.extend(evaluate(script, run))
            chart = case_chart(script, run)
            if chart is not None:
                report.charts[script.case.id] = chart
        result[name] = Graded(scripts, runs, report)
    return result


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_each_bar_adds_up_to_what_the_mock_counted(name: str, graded: dict[str, Graded]) -> None:
    for script, run, chart in graded[name].conversations():
        model = script.case.model
        assert run.journal, script.case.id
        assert [bar.request for bar in chart.bars] == list(range(1, len(run.journal) + 1))
        pinned = REPLY_PRIMING + sum(message_tokens(m, model) for m in script.system_messages)
        for bar, entry in zip(chart.bars, run.journal, strict=True):
            assert bar.tokens == entry.prompt_tokens == count_request_tokens(entry.messages, model)
            assert bar.pinned == pinned
            assert bar.new == message_tokens(entry.messages[-1], model)
            assert bar.history == bar.tokens - pinned - bar.new >= 0
            assert bar.over == (bar.tokens > script.case.budget)


def test_a_submission_that_never_trims_drops_nothing_and_climbs_over(
    graded: dict[str, Graded],
) -> None:
    charts = {chart.case: chart for _, _, chart in graded["no_trimming"].conversations()}
    assert all(bar.dropped == 0 for chart in charts.values() for bar in chart.bars)
    long_chat = charts["long_chat"]
    over = long_chat.over
    assert over, "no request of long_chat went over the budget"
    # It never trims: once over, every later request is over too, and larger.
    assert over == tuple(range(over[0], len(long_chat.bars) + 1))
    tokens = [bar.tokens for bar in long_chat.bars]
    assert tokens == sorted(tokens)


def test_a_submission_that_trims_stays_under_and_says_what_it_dropped(
    graded: dict[str, Graded],
) -> None:
    charts = {chart.case: chart for _, _, chart in graded["solution"].conversations()}
    assert not any(chart.over for chart in charts.values())
    assert all(bar.dropped == 0 for bar in charts["short_chat"].bars)
    dropped = [bar.dropped for bar in charts["long_chat"].bars]
    assert dropped[0] == 0 and max(dropped) > 0


def shape_lines(text: str) -> dict[str, str]:
    """Each case's tokens-per-request line in a text report."""
    lines, case = {}, None
    for line in text.splitlines():
        header = re.match(r"(?::\) )?case (\w+)", line)  # "case X …", ":) case X: all …"
        if header:
            case = header.group(1)
        elif "tokens per request:" in line and case:
            lines[case] = line
    return lines


@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_the_text_report_draws_each_conversation_in_one_line(
    name: str, graded: dict[str, Graded]
) -> None:
    report = graded[name].report
    lines = shape_lines(render([report], "text", color=False))
    charts = {chart.case: chart for _, _, chart in graded[name].conversations()}
    assert set(lines) == set(charts)  # every conversation case, and no functions case
    for case, chart in charts.items():
        blocks = re.search(r"tokens per request: (\S+)", lines[case])
        assert blocks, lines[case]
        drawn = blocks.group(1)
        assert len(drawn) == len(chart.bars)
        assert set(drawn) <= set(STEPS + OVER)
        # A full block is exactly a request over the budget.
        assert [i + 1 for i, c in enumerate(drawn) if c == OVER] == list(chart.over)
        assert f"budget of {chart.budget:,}" in lines[case]
        assert ("none over" in lines[case]) == (not chart.over)
    coloured = render([report], "text", color=True)
    red_block = "\x1b[31m\x1b[1m" + OVER
    assert (red_block in coloured) == any(chart.over for chart in charts.values())


class Marks(HTMLParser):
    """The page's charts, marks, failure notes and sample tables; and anything it would load."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, str]] = {}
        self.marks: dict[str, list[dict[str, str]]] = {}
        self.notes: list[dict[str, str]] = []
        self.rows: dict[str, int] = {}
        self.loads: list[str] = []
        self.scripts = 0
        self.csp = ""
        self._case: str | None = None
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self._case = a["data-case"]
            self.charts[self._case] = a
            self.marks[self._case] = []
        elif tag == "g" and "data-request" in a and self._case:
            self.marks[self._case].append(a)
        elif tag == "li" and "data-request" in a:
            self.notes.append(a)
        elif tag == "table" and "data-function" in a:
            self._table = a["data-function"]
            self.rows[self._table] = 0
        elif tag == "tr" and "data-sample" in a and self._table:
            self.rows[self._table] += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a["content"]
        for key in ("src", "href", "xlink:href", "srcset", "poster", "data"):
            if key in a and not a[key].startswith("#"):
                self.loads.append(a[key])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._case = None
        elif tag == "table":
            self._table = None


def test_the_html_page_marks_every_request_with_the_graders_count(
    graded: dict[str, Graded],
) -> None:
    report = graded["no_trimming"].report
    page = Marks()
    page.feed(render([report], "html"))
    charts = {chart.case: chart for _, _, chart in graded["no_trimming"].conversations()}
    assert set(page.charts) == set(charts)
    for case, chart in charts.items():
        assert page.charts[case]["data-budget"] == str(chart.budget)
        marks = page.marks[case]
        assert [m["data-request"] for m in marks] == [str(b.request) for b in chart.bars]
        assert [m["data-tokens"] for m in marks] == [str(b.tokens) for b in chart.bars]
        assert [m["data-over"] for m in marks] == [str(b.over).lower() for b in chart.bars]
    # The request under_budget failed on is flagged, and its message is beside the chart.
    failure = next(r for r in report.results if r.case == "long_chat" and r.id == "under_budget")
    assert failure.status == "failed" and failure.request == charts["long_chat"].over[0]
    flagged = [m for m in page.marks["long_chat"] if "under_budget" in m.get("data-failed", "")]
    assert [m["data-request"] for m in flagged] == [str(failure.request)]
    assert {"data-request": str(failure.request)} in page.notes
    # The functions case: a row for every history trim_history got wrong, as its check counts.
    trim = next(r for r in report.results if r.id == "trim_function")
    wrong = re.search(r"wrong on (\d+) of (\d+)", trim.message)
    assert wrong, trim.message
    tables = report.charts["functions"]
    assert isinstance(tables, FunctionTables)
    assert len(tables.trim_rows) == int(wrong.group(1)) and tables.trim_total == int(wrong.group(2))
    assert page.rows == {"trim_history": int(wrong.group(1))}  # count_tokens was right
    # Self-contained: nothing to load, nothing to run, and a policy that forbids fetching.
    assert page.loads == [] and page.scripts == 0
    assert "default-src 'none'" in page.csp


def test_a_passing_submission_has_charts_and_no_flags(graded: dict[str, Graded]) -> None:
    page = Marks()
    page.feed(render([graded["solution"].report], "html"))
    assert page.charts and all(page.marks.values())
    assert all(
        m["data-over"] == "false" and "data-failed" not in m
        for ms in page.marks.values()
        for m in ms
    )
    assert page.notes == [] and page.rows == {}


def test_gradescope_shows_the_visible_charts_as_html(graded: dict[str, Graded]) -> None:
    report = graded["no_trimming"].report
    results = as_gradescope(report)
    assert results["output_format"] == "html"
    page = Marks()
    page.feed(results["output"])
    visible = {r.case for r in report.results if r.visibility != "hidden"}
    hidden = {r.case for r in report.results if r.visibility == "hidden"}
    assert hidden and set(page.charts) == visible & set(report.charts) - {"functions"}
    assert not hidden & set(page.charts)
    # ...and each as the text line too, in case Gradescope's sanitizer removes the SVG.
    assert results["output"].count("tokens per request: ") == len(page.charts)
    assert page.loads == [] and page.scripts == 0
    # The per-test outputs stay plain text, as Gradescope shows them by default.
    assert all("output_format" not in test for test in results["tests"])


def test_a_submission_that_did_not_load_has_no_chart(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "chat_repl.py").write_text("this is not python\n")
    script = next(make_script(c) for c in load_cases(BUILTIN_CASES) if c.id == "short_chat")
    run = sandbox.run(script, tmp_path)
    assert not run.loaded and case_chart(script, run) is None
    functions = next(make_script(c) for c in load_cases(BUILTIN_CASES) if c.kind == "functions")
    assert isinstance(functions, FunctionScript)
    assert case_chart(functions, sandbox.run(functions, tmp_path)) is None


def test_a_class_page_has_a_summary_and_a_section_per_submission(
    graded: dict[str, Graded],
) -> None:
    reports = [graded["no_trimming"].report, graded["solution"].report]
    page = render(reports, "html")
    assert "1 of 2 submissions passed every check" in page
    for report in reports:
        assert page.count(f'id="s-{report.name}"') == 1
        assert page.count(f'href="#s-{report.name}"') == 1
    marks = Marks()
    marks.feed(page)
    assert marks.loads == []  # the summary's links stay inside the page
