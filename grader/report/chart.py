"""Report stage: the shape of a case's run, for the HTML chart and the text report's line.

Pure: it reads the script and the run's record (the mock's journal, the functions' results),
counts with the grader's own count (mock_api.tokens), and draws nothing of its own but text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import click

from grader.cases.script import ConversationScript, FunctionScript, Script
from grader.checks.conversation import turns
from grader.checks.functions import count_problem, describe_call, trim_problem, unfinished
from grader.checks.reference import same
from grader.i18n import _, ngettext
from grader.run import CaseRun
from mock_api.tokens import REPLY_PRIMING, count_request_tokens, message_tokens

# In-budget requests climb these eighths; a request over the budget is a full block, and only
# such a request is: the budget itself is the seventh step.
STEPS = "▁▂▃▄▅▆▇"
OVER = "█"


@dataclass(frozen=True)
class Bar:
    """One request, split as the chart stacks it; the parts add up to the grader's count."""

    request: int  # from 1
    pinned: int  # the leading system/developer messages, and the 3 tokens priming the reply
    history: int  # the other messages it kept, before the newest line
    new: int  # the newest line, the one this request answers (0 when it was not sent last)
    dropped: int  # messages of the conversation so far that it did not send
    budget: int

    @property
    def tokens(self) -> int:
        return self.pinned + self.history + self.new

    @property
    def over(self) -> bool:
        return self.tokens > self.budget


@dataclass(frozen=True)
class ConversationChart:
    case: str
    budget: int
    bars: tuple[Bar, ...]

    @property
    def over(self) -> tuple[int, ...]:
        """The requests over the budget."""
        return tuple(bar.request for bar in self.bars if bar.over)


@dataclass(frozen=True)
class SampleRow:
    """One input a function got wrong."""

    number: int  # from 1, as the checks' messages number them
    label: str
    messages: int
    budget: int | None  # trim_history's budget; None for count_tokens
    problem: str
    expected: str
    actual: str


@dataclass(frozen=True)
class FunctionTables:
    """The inputs count_tokens and trim_history got wrong, out of all they were given."""

    case: str
    count_rows: tuple[SampleRow, ...]
    count_total: int
    trim_rows: tuple[SampleRow, ...]
    trim_total: int


CaseChart = ConversationChart | FunctionTables


def case_chart(script: Script, run: CaseRun) -> CaseChart | None:
    """What the report draws for a case; None where the submission did not load."""
    if not run.loaded:
        return None
    if script.kind == "conversation":
        return conversation_chart(script, run)
    return function_tables(script, run)


def conversation_chart(script: ConversationScript, run: CaseRun) -> ConversationChart:
    model, budget = script.case.model, script.case.budget
    bars = []
    for turn in turns(script, run):
        sent = [m for m in turn.entry.messages if isinstance(m, dict)]
        # The stack must add up to the count under_budget judged: priming, then every message.
        pinned = REPLY_PRIMING + sum(message_tokens(m, model) for m in turn.systems)
        others = [m for m in turn.others if isinstance(m, dict)]
        newest = others[-1] if others and same(others[-1], turn.conversation[-1]) else None
        new = message_tokens(newest, model) if newest is not None else 0
        history = count_request_tokens(sent, model) - pinned - new
        dropped = max(0, len(turn.conversation) - len(turn.others))
        bars.append(Bar(turn.number, pinned, history, new, dropped, budget))
    return ConversationChart(script.case.id, budget, tuple(bars))


def function_tables(script: FunctionScript, run: CaseRun) -> FunctionTables:
    model, why = script.case.model, unfinished(run)
    count_rows = []
    for index, messages in enumerate(script.count_samples):
        expected = count_request_tokens(messages, model)
        result = run.calls("count_tokens").get(index)
        problem = count_problem(result, expected, why)
        if problem:
            label = f"{len(messages)} message{'' if len(messages) == 1 else 's'}"
            count_rows.append(
                SampleRow(
                    index + 1,
                    label,
                    len(messages),
                    None,
                    problem[0],
                    f"{expected:,}",
                    describe_call(result),
                )
            )
    trim_rows = []
    for index, sample in enumerate(script.trim_samples):
        result = run.calls("trim_history").get(index)
        trim = trim_problem(sample, result, model, why)
        if trim:
            rationale, expected, actual = trim.rationale, trim.expected, trim.actual
            trim_rows.append(
                SampleRow(
                    index + 1,
                    sample.label,
                    len(sample.messages),
                    sample.budget,
                    rationale,
                    expected or "",
                    actual or describe_call(result),
                )
            )
    return FunctionTables(
        script.case.id,
        tuple(count_rows),
        len(script.count_samples),
        tuple(trim_rows),
        len(script.trim_samples),
    )


def step(bar: Bar) -> str:
    """One character: its height is the request's share of the budget."""
    if bar.over:
        return OVER
    eighths = math.ceil(bar.tokens / bar.budget * len(STEPS)) if bar.budget > 0 else 1
    return STEPS[min(max(eighths, 1), len(STEPS)) - 1]


def spans(numbers: Sequence[int]) -> str:
    """'3, 5-9, 12': runs of consecutive numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def sparkline(chart: ConversationChart, color: bool | None = None) -> str:
    """The text report's line: tokens per request, one block each, against the budget."""
    if not chart.bars:
        return _("tokens per request: no request was sent")
    styled = color is not False
    blocks = "".join(
        click.style(step(bar), fg="red", bold=True) if bar.over and styled else step(bar)
        for bar in chart.bars
    )
    over = chart.over
    peak = max(bar.tokens for bar in chart.bars)
    verdict = (
        ngettext("{over} over it: request {spans}", "{over} over it: requests {spans}", len(over))
        if over
        else _("none over")
    ).format(over=OVER, spans=spans(over))
    return _(
        "tokens per request: {blocks}  ({step} is the budget of {budget}; {verdict}; "
        "the largest {peak})"
    ).format(
        blocks=blocks, step=STEPS[-1], budget=f"{chart.budget:,}", verdict=verdict,
        peak=f"{peak:,}",
    )  # fmt: skip
