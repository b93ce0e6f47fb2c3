"""Judging count_tokens and trim_history, called directly on generated inputs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grader.cases.script import FunctionScript, TrimSample
from grader.checks import Failure, as_functions, check, first_line
from grader.checks.diagnosis import Finding, diagnose, picture
from grader.checks.reference import acceptable_trims, is_system, system_tokens
from grader.i18n import N_, _
from grader.run import Call, CaseRun
from mock_api.offline import BUNDLED_ENCODINGS
from mock_api.tokens import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    content_strings,
    count_request_tokens,
    encoded_length,
    encoding_name_for,
    message_tokens,
)

Message = dict[str, Any]


def special_help() -> str:
    return _(
        "tiktoken refuses text like '<|endoftext|>' by default; a chat app must count it as "
        "ordinary text: enc.encode(text, disallowed_special=())."
    )


def todo_help(function: str) -> str:
    return _("This is still a TODO: implement {function} (exercise/README.md).").format(
        function=function
    )


# --- count_tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Formula:
    """A way of counting: the cookbook's, or one of the usual mistakes."""

    per_message: int = TOKENS_PER_MESSAGE
    priming: int = REPLY_PRIMING
    per_name: int = TOKENS_PER_NAME
    role: bool = True
    name_text: bool = True
    parts: bool = True  # the text of list content counted
    encoding: str | None = None  # None: the model's own
    chars: Callable[[int], int] | None = None  # an estimate from characters, not tiktoken

    def count(self, messages: Sequence[Message], model: str) -> int:
        encoding = self.encoding or encoding_name_for(model)
        total = self.priming
        for message in messages:
            total += self.per_message
            for key, value in message.items():
                if key == "content":
                    strings = (
                        list(content_strings(value)) if self.parts or isinstance(value, str) else []
                    )
                elif (key == "role" and not self.role) or (key == "name" and not self.name_text):
                    strings = []
                else:
                    strings = [value] if isinstance(value, str) else []
                for text in strings:
                    total += self.chars(len(text)) if self.chars else encoded_length(text, encoding)
                if key == "name":
                    total += self.per_name
        return total


def other_encodings(model: str) -> list[str]:
    return [name for name in BUNDLED_ENCODINGS if name != encoding_name_for(model)]


# Each usual mistake, by family, with the words that name it. Single mistakes come first, so
# that the simplest explanation of the numbers is the one named.
MISTAKES: tuple[tuple[str, Formula, str, str], ...] = (
    ("no_priming", Formula(priming=0), N_("without the 3 tokens that prime the reply"), N_(
        "Your counts are exactly 3 short on every list: the 3 tokens that prime the reply "
        "(<|start|>assistant<|message|>) are missing. Add 3 once per request.")),
    ("no_name", Formula(per_name=0), N_("without the +1 for a name"), N_(
        "Your counts are 1 short for every message with a name: a name costs 1 token more, "
        "beyond its own text.")),
    ("no_role", Formula(role=False), N_("without the role's tokens"), N_(
        "Your counts leave out the role's tokens: count every string value of a message, "
        "role included.")),
    ("no_per_message", Formula(per_message=0), N_("without the 3 tokens per message"), N_(
        "Your counts leave out the 3 tokens every message costs beyond its text.")),
    ("parts_skipped", Formula(parts=False), N_("without content given as parts"), N_(
        "Your counts skip content given as a list of parts: count the text of each "
        "{'type': 'text', 'text': ...} part.")),
    ("content_only", Formula(per_message=0, priming=0, per_name=0, role=False, name_text=False),
     N_("the content only"), N_(
        "Your counts are the content's tokens only: add 3 per message, the role's tokens (and "
        "the name's, +1), and 3 for the reply.")),
    ("no_overhead", Formula(per_message=0, priming=0, per_name=0), N_("the text only"), N_(
        "Your counts are the text's tokens only: add 3 per message, 1 per name, and 3 for the "
        "reply.")),
    ("no_per_message_no_priming", Formula(per_message=0, priming=0),
     N_("without the 3 per message and the 3 for the reply"), N_(
        "Your counts leave out the 3 tokens per message and the 3 for the reply.")),
)  # fmt: skip
ESTIMATES: tuple[Callable[[int], int], ...] = (
    lambda n: n // 4,
    lambda n: math.ceil(n / 4),
    lambda n: round(n / 4),
)


def match_mistake(
    samples: Sequence[Sequence[Message]], values: Sequence[int], model: str
) -> tuple[str, str] | None:
    """The usual mistake whose formula gives exactly the student's numbers: (family, words)."""

    def fits(formula: Formula) -> bool:
        return all(formula.count(s, model) == v for s, v in zip(samples, values, strict=True))

    for encoding in other_encodings(model):
        if fits(Formula(encoding=encoding)):
            return f"encoding:{encoding}", _(
                "Your counts are what the {encoding} encoding gives, but {model} counts with "
                "{right}: use tiktoken.encoding_for_model(model) (o200k_base for names it does "
                "not know)."
            ).format(encoding=encoding, model=model, right=encoding_name_for(model))
    for family, formula, _what, words in MISTAKES:
        if fits(formula):
            return family, _(words)
    for encoding in other_encodings(model):
        for family, formula, _what, words in MISTAKES:
            if fits(Formula(**{**formula.__dict__, "encoding": encoding})):
                return f"{family}+encoding:{encoding}", _(words) + " " + _(
                    "And {model} counts with {right}, not {encoding}."
                ).format(model=model, right=encoding_name_for(model), encoding=encoding)
    for estimate in ESTIMATES:
        for formula in (Formula(chars=estimate), Formula(chars=estimate, per_message=0, priming=0,
                                                         per_name=0, role=False)):  # fmt: skip
            if fits(formula):
                return "estimate", _(
                    "Your counts are characters ÷ 4, an estimate: tokens per character differ "
                    "by language (Korean and emoji take many more). Encode with tiktoken."
                )
    return None


@check(
    kind="functions",
    description=N_("count_tokens agrees with the cookbook formula"),
    doc=N_(
        "`count_tokens` equals the grader's count exactly on every message list (Korean, "
        "emoji, `<|endoftext|>`, names, list content)"
    ),
    blocks=N_("count_tokens is wrong"),
)
def count_tokens(script: Any, run: CaseRun) -> str:
    script = as_functions(script)
    model = script.case.model
    calls = run.calls("count_tokens")
    samples = script.count_samples
    wrong = []
    numbers: list[tuple[list[Message], int]] = []
    for index, messages in enumerate(samples):
        expected = count_request_tokens(messages, model)
        call = calls.get(index)
        problem = count_problem(call, expected, unfinished(run))
        if call is not None and is_int(call.value) and call.raised is None:
            numbers.append((messages, call.value))
        if problem:
            wrong.append((index, messages, expected, call, problem))
    if not wrong:
        return _("count_tokens was exact on all {n} message lists").format(n=len(samples))
    index, messages, expected, call, (rationale, help, family) = wrong[0]
    if family == "wrong_number":
        found = match_mistake([m for m, _v in numbers], [v for _m, v in numbers], model)
        if found:
            family, help = found
        else:
            off = sorted({count_request_tokens(m, model) - v for m, v in numbers} - {0})
            family = "no_match"
            help = _(
                "Your counts are off by different amounts ({amounts}) and match none of the "
                "usual mistakes. Are you estimating instead of encoding with tiktoken? The "
                "formula: 3 per message + the tokens of every string value (role, content, "
                "name) + 1 per name + 3 for the reply."
            ).format(amounts=", ".join(f"{d:+,}" for d in off[:6]))
    raise Failure(
        _(
            "count_tokens was wrong on {wrong} of {total} message lists. The first: "
            "count_tokens({messages}, model={model!r}) {rationale}"
        ).format(
            wrong=len(wrong),
            total=len(samples),
            messages=short_json(messages),
            model=model,
            rationale=rationale,
        ),
        help,
        family=family,
    )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def count_problem(
    call: Call | None, expected: int, why: str = "the run ended first"
) -> tuple[str, str, str] | None:
    """Why one count is wrong, a hint, and the hint's family; None when it is right."""
    if call is None:
        return (
            _("never returned: {why}").format(why=why),
            _(
                "count_tokens must return promptly; a loop that never ends, or code that exits "
                "the process, stops the grading of everything after it."
            ),
            "never_returned",
        )
    if call.raised is not None:
        error = call.raised
        message = _("raised {type}: {message}").format(
            type=error.type, message=first_line(error.message, 4000)
        )
        if "special token" in error.message:
            return message, special_help(), "special_tokens"
        if error.type == "NotImplementedError":
            return message, todo_help("count_tokens"), "todo"
        return message, _("count_tokens must return a number for any list of chat messages."), ""
    if not is_int(call.value):
        return (
            _("returned {result}, not an int").format(result=describe_call(call)),
            _("Return the total as an int."),
            "not_int",
        )
    if call.value == expected:
        return None
    return (
        _("returned {value:,}, expected {expected:,}").format(value=call.value, expected=expected),
        "",
        "wrong_number",
    )


def unfinished(run: CaseRun) -> str:
    """Why a function's result never came back: the way the run ended."""
    outcome = run.outcome
    if outcome.kind == "timeout":
        return _("the case {how}").format(how=outcome.message)
    if outcome.raised:
        return f"{outcome.raised.type}: {outcome.raised.message}"
    return outcome.message or _("the run ended ({kind})").format(kind=outcome.kind)


# --- trim_history -------------------------------------------------------------------------------


@check(
    kind="functions",
    description=N_("trim_history keeps the system messages and the newest that fit"),
    doc=N_(
        "`trim_history` returns what a correct trim may return on every generated history "
        "(seeded), keeps its argument unchanged, raises `ValueError` when even the system "
        "messages and the newest message do not fit"
    ),
    follows=("count_tokens",),
)
def trim_function(script: Any, run: CaseRun) -> str:
    script = as_functions(script)
    model = script.case.model
    calls = run.calls("trim_history")
    failures = []
    for index, sample in enumerate(script.trim_samples):
        finding = trim_problem(sample, calls.get(index), model, unfinished(run))
        if finding:
            failures.append((index, sample, finding))
    total = len(script.trim_samples)
    if not failures:
        return _("trim_history was right on all {n} generated histories").format(n=total)
    index, sample, finding = failures[0]
    pattern = trim_pattern(script.trim_samples, calls, model) or own_total(
        script, run, [(s, calls[i]) for i, s, f in failures if i in calls and f.family in KEPT]
    )
    wrong = _("trim_history was wrong on {wrong} of {total} histories (seed {seed}).").format(
        wrong=len(failures), total=total, seed=script.case.seed
    )
    if pattern is not None:  # a cause seen across the histories, not in one of them
        raise Failure(f"{wrong} {pattern.rationale}", pattern.hint, family=pattern.family)
    raise Failure(
        wrong
        + " "
        + _(
            "The first: history #{number}, {kind}: {count} messages, budget {budget:,}. {rationale}"
        ).format(
            number=index + 1,
            kind=_(sample.label),
            count=len(sample.messages),
            budget=sample.budget,
            rationale=finding.rationale,
        ),
        finding.hint,
        expected=finding.expected,
        actual=finding.actual,
        family=finding.family,
    )


def trim_problem(
    sample: TrimSample, call: Call | None, model: str, why: str = "the run ended first"
) -> Finding | None:
    """None when the result is one a correct trim could give; else what went wrong."""
    messages, budget = sample.messages, sample.budget
    acceptable = acceptable_trims(messages, budget, model)
    if call is None:
        return Finding("never_returned", _("It never returned: {why}.").format(why=why), "")
    if acceptable is None:
        need = system_tokens(messages, model) + message_tokens(messages[-1], model)
        if call.raised is not None and call.raised.is_a("ValueError"):
            return None
        return Finding(
            "no_valueerror",
            _(
                "The system messages and the newest message alone need {need:,} tokens, over "
                "the budget, so it must raise ValueError; it {result}."
            ).format(need=need, result=describe_call(call)),
            _("Raise ValueError when even the system messages plus the newest message do not fit."),
        )
    if call.raised is not None:
        error = call.raised
        help, family = "", "raised"
        if "special token" in error.message:
            help, family = special_help(), "special_tokens"
        elif error.type == "NotImplementedError":
            help, family = todo_help("trim_history"), "todo"
        return Finding(
            family,
            _("It raised {type}: {message}").format(
                type=error.type, message=first_line(error.message, 4000)
            ),
            help,
        )
    if call.argument_after != messages:
        return Finding(
            "argument_changed",
            _(
                "It changed the list it was given: the caller's history now holds {n} messages "
                "instead of {m}."
            ).format(
                n=len(call.argument_after) if isinstance(call.argument_after, list) else "?",
                m=len(messages),
            ),
            _(
                "Build and return a new list (e.g. systems + kept); do not pop from or edit the "
                "caller's history."
            ),
        )
    value = call.value
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        return Finding(
            "not_a_list",
            _("It returned {result}, not a list of messages.").format(result=describe_call(call)),
            "",
        )
    if any(value == option for option in acceptable):
        return None
    correct = kept_positions(acceptable[0], messages)
    return diagnose(value, messages, budget, model, correct) or Finding(
        "other",
        _("Its result is not what a correct trim returns."),
        "",
        picture(correct, messages),
        None,
    )


def counted_as(
    messages: Sequence[Message], kept: Sequence[Message], budget: int, model: str
) -> tuple[str, str] | None:
    """A usual counting mistake under which ``kept`` is exactly what a correct trim keeps."""
    for family, formula, what, _words in MISTAKES:
        others = [m for m in messages if not is_system(m)]
        systems = [m for m in messages if is_system(m)]
        fixed = formula.count(systems, model)
        total, n = fixed, 0
        for message in reversed(others):
            total += formula.count([message], model) - formula.priming
            if total > budget:
                break
            n += 1
        suffix = {id(m) for m in others[len(others) - n :]}
        if n and list(kept) == [m for m in messages if is_system(m) or id(m) in suffix]:
            return family, _(what)
    return None


# Findings about what a trim kept (not that it raised, changed its argument, or never
# returned): the only ones a trim counting with a total of its own explains.
KEPT = frozenset({"never_trims", "over_budget", "newest_dropped", "gap", "over_trimmed"})


def own_total(
    script: FunctionScript, run: CaseRun, failures: Sequence[tuple[TrimSample, Call]]
) -> Finding | None:
    """A trim that measures with a total of its own, while count_tokens counts right."""
    counts = run.calls("count_tokens")
    model = script.case.model
    if not failures or any(
        counts.get(i) is None or counts[i].value != count_request_tokens(m, model)
        for i, m in enumerate(script.count_samples)
    ):
        return None
    found = {
        counted_as(sample.messages, call.value, sample.budget, model)
        for sample, call in failures
        if isinstance(call.value, list)
    }
    if len(found) != 1 or None in found:
        return None
    ((_family, what),) = found
    return Finding(
        "own_total",
        _(
            "count_tokens counts right, but trim_history measures with a total of its own, one "
            "that counts {what}."
        ).format(what=what),
        _("Measure the list with count_tokens(result, model), not with a sum of your own."),
    )


def kept_positions(trim: list[Message], messages: list[Message]) -> list[int]:
    """Where a correct trim's messages stand (they are the very objects of ``messages``)."""
    ids = {id(m) for m in trim}
    return [i for i, m in enumerate(messages) if id(m) in ids]


def trim_pattern(
    samples: Sequence[TrimSample], calls: dict[int, Call], model: str
) -> Finding | None:
    """A cause that only shows across histories: a fixed count kept, or the budget ignored."""
    results = []
    for index, sample in enumerate(samples):
        call = calls.get(index)
        if call is None or call.raised is not None or not isinstance(call.value, list):
            continue
        if call.argument_after != sample.messages:
            return None  # a changed argument is named first, by itself
        results.append((sample, call.value))
    if len(results) < 3:
        return None
    wrong = [
        (s, v)
        for s, v in results
        if (options := acceptable_trims(s.messages, s.budget, model)) is not None
        and v not in options
    ]
    if wrong and all(count_request_tokens(s.messages, model) == s.budget for s, _v in wrong):
        return Finding(
            "off_by_one",
            _(
                "It is wrong only on histories that count exactly the budget: it drops a "
                "message from a request that already fits."
            ),
            _("A request fits when its count is at most the budget (<=): stop dropping then."),
        )
    if len(wrong) >= 2 and all(
        sum(not is_system(m) for m in v) == 1 and v[-1] == s.messages[-1] for s, v in wrong
    ):
        return Finding(
            "clears_history",
            _(
                "Whenever it trims, it keeps only the system messages and the newest message, "
                "even where older messages would have fit."
            ),
            _(
                "Drop the oldest messages one at a time, only while the request is over the "
                "budget; clearing the history drops too much."
            ),
        )
    default = 8000
    if all(s.budget != default for s, _v in results):
        at_default = [acceptable_trims(s.messages, default, model) for s, _v in results]
        trims_there = any(
            options is not None and all(len(o) < len(s.messages) for o in options)
            for (s, _v), options in zip(results, at_default, strict=True)
        )
        if trims_there and all(
            options is not None and any(v == o for o in options)
            for (_s, v), options in zip(results, at_default, strict=True)
        ):
            return Finding(
                "budget_ignored",
                _(
                    "Every result is what a correct trim returns for a budget of {default:,}, "
                    "whatever max_input_tokens was: the budget argument is ignored."
                ).format(default=default),
                _(
                    "Trim to max_input_tokens, the argument it is given (here {budget:,}), not "
                    "to a number of your own."
                ).format(budget=results[0][0].budget),
            )
    kept = {sum(not is_system(m) for m in v) for s, v in results if len(s.messages) > 12}
    if len(kept) == 1:
        (n,) = kept
        wrong = [
            (s, v)
            for s, v in results
            if len(s.messages) > 12
            and v not in (acceptable_trims(s.messages, s.budget, model) or [])
        ]
        if len(wrong) >= 2:
            longer = [
                sum(not is_system(m) for m in v)
                for s, v in results
                if sum(not is_system(m) for m in s.messages) > n
            ]
            words = (
                N_(
                    "It keeps the newest {n} non-system messages whatever they cost: in all "
                    "{longer} histories that had more than {n}, it kept exactly {n}, whether or "
                    "not more would fit the budget."
                )
                if longer.count(n) == len(longer)
                else N_(
                    "It keeps the newest {n} non-system messages whatever they cost: of the "
                    "{longer} histories that had more than {n}, it kept exactly {n} in {kept}, "
                    "whether they fit the budget or not."
                )
            )
            return Finding(
                "fixed_window",
                _(words).format(n=n, longer=len(longer), kept=longer.count(n)),
                _(
                    "Trim by tokens, not by messages: keep the newest messages while the count "
                    "stays within the budget."
                ),
            )
    return None


def describe_call(call: Call | None) -> str:
    if call is None:
        return _("nothing")
    if call.raised is not None:
        return _("raised {type}: {message}").format(
            type=call.raised.type, message=call.raised.message
        )
    if call.unreadable is not None:
        return _("returned {what}").format(what=call.unreadable)
    if isinstance(call.value, list):
        return _("returned a list of {n}").format(n=len(call.value))
    return _("returned {value!r}").format(value=call.value)


def short_json(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
