"""count_tokens and trim_history, called directly on generated inputs."""

from __future__ import annotations

import json
from typing import Any

from grader.cases.script import FunctionScript, Script, TrimSample
from grader.checks import Failure, check, compact
from grader.checks.reference import acceptable_trims, is_system, system_tokens
from grader.run import CaseRun
from mock_api.tokens import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    count_request_tokens,
    message_tokens,
    text_tokens,
)

SPECIAL_HELP = (
    "tiktoken refuses text like '<|endoftext|>' by default; a chat app must count it as "
    "ordinary text: enc.encode(text, disallowed_special=())."
)


@check("count_tokens", "count_tokens agrees with the cookbook formula", "functions")
def count_tokens(script: Script, run: CaseRun) -> str:
    assert isinstance(script, FunctionScript)
    model = script.case.model
    wrong = []
    for index, messages in enumerate(script.count_samples):
        expected = count_request_tokens(messages, model)
        result = run.results["count_tokens"].get(index)
        problem = count_problem(result, expected, messages, model, unfinished(run))
        if problem:
            wrong.append((index, messages, expected, result, problem))
    if not wrong:
        return f"count_tokens was exact on all {len(script.count_samples)} message lists"
    index, messages, expected, result, (rationale, help) = wrong[0]
    raise Failure(
        f"count_tokens was wrong on {len(wrong)} of {len(script.count_samples)} message lists. "
        f"The first: count_tokens({short_json(messages)}, model={model!r}) {rationale}",
        help,
        expected=str(expected),
        actual=describe_result(result),
    )


def count_problem(
    result: dict[str, Any] | None,
    expected: int,
    messages: list[dict[str, Any]],
    model: str,
    why: str = "the run ended first",
) -> tuple[str, str] | None:
    if result is None:
        return (
            f"never returned: {why}",
            "count_tokens must return promptly; a loop that never ends, or code that exits the "
            "process, stops the grading of everything after it.",
        )
    if "error" in result:
        error = result["error"]
        message = f"raised {error['type']}: {error['message']}"
        if "special token" in error["message"]:
            return message, SPECIAL_HELP
        if error["type"] == "NotImplementedError":
            return message, "This is still a TODO: implement count_tokens (exercise/README.md)."
        return message, "count_tokens must return a number for any list of chat messages."
    value = result.get("value")
    if not isinstance(value, int) or isinstance(value, bool):
        return f"returned {describe_result(result)}, not an int", "Return the total as an int."
    if value == expected:
        return None
    return f"returned {value:,}, expected {expected:,}", count_hint(
        expected - value, messages, model
    )


def unfinished(run: CaseRun) -> str:
    """Why a function's result never came back: the way the run ended."""
    outcome = run.outcome
    if outcome.kind == "timeout":
        return f"the case {outcome.message}"
    if outcome.error:
        return f"{outcome.error.get('type')}: {outcome.error.get('message')}"
    return outcome.message or f"the run ended ({outcome.kind})"


def count_hint(missing: int, messages: list[dict[str, Any]], model: str) -> str:
    """Name the part of the formula that the difference points at."""
    n = len(messages)
    roles = sum(text_tokens(m.get("role", ""), model) for m in messages)
    names = sum(1 for m in messages if "name" in m)
    known = {
        TOKENS_PER_MESSAGE * n + REPLY_PRIMING: "Your count looks like the content only. Each "
        "message costs 3 tokens beyond its content, and every request 3 more for the reply.",
        TOKENS_PER_MESSAGE * n + REPLY_PRIMING + roles: "Your count looks like the content "
        "only: add 3 per message, the role's tokens, and 3 for the reply.",
        TOKENS_PER_MESSAGE * n: "Each message costs 3 tokens beyond its content; does your "
        "count include them?",
        REPLY_PRIMING: "Every request costs 3 more tokens: the reply is primed with "
        "<|start|>assistant<|message|>.",
        roles: "Count the role too: every string value of a message, role included.",
    }
    if names:
        known.setdefault(names, "A message with a name costs 1 token more.")
    return known.get(
        missing,
        f"Your count is {'under' if missing > 0 else 'over'} by {abs(missing)}. The formula: "
        "3 per message + the tokens of every string value (role, content, name) + 1 per name "
        "+ 3 for the reply; use tiktoken.encoding_for_model(model).",
    )


@check(
    "trim_function", "trim_history keeps the system messages and the newest that fit", "functions"
)
def trim_function(script: Script, run: CaseRun) -> str:
    assert isinstance(script, FunctionScript)
    model = script.case.model
    failures = []
    for index, sample in enumerate(script.trim_samples):
        result = run.results["trim_history"].get(index)
        problem = trim_problem(sample, result, model, unfinished(run))
        if problem:
            failures.append((index, sample, problem))
    total = len(script.trim_samples)
    if not failures:
        return f"trim_history was right on all {total} generated histories"
    index, sample, (rationale, help, expected, actual) = failures[0]
    seed = script.case.seed
    raise Failure(
        f"trim_history was wrong on {len(failures)} of {total} histories (seed {seed}). "
        f"The first: history #{index + 1}, {sample.label}: {len(sample.messages)} messages, "
        f"budget {sample.budget:,}. {rationale}",
        help,
        expected=expected,
        actual=actual,
    )


def trim_problem(
    sample: TrimSample, result: dict[str, Any] | None, model: str, why: str = "the run ended first"
) -> tuple[str, str, str | None, str | None] | None:
    """None when the result is one a correct trim could give; else why, a hint, and both sides."""
    messages, budget = sample.messages, sample.budget
    acceptable = acceptable_trims(messages, budget, model)
    if result is None:
        return (f"It never returned: {why}.", "", None, None)
    if acceptable is None:
        need = system_tokens(messages, model) + message_tokens(messages[-1], model)
        if "error" in result and "ValueError" in result["error"].get("bases", ["?"]):
            return None
        return (
            f"The system messages and the newest message alone need {need:,} tokens, over the "
            f"budget, so it must raise ValueError; it {describe_result(result)}.",
            "Raise ValueError when even the system messages plus the newest message do not fit.",
            "ValueError",
            describe_result(result),
        )
    if "error" in result:
        error = result["error"]
        help = SPECIAL_HELP if "special token" in error["message"] else ""
        if error["type"] == "NotImplementedError":
            help = "This is still a TODO: implement trim_history (exercise/README.md)."
        return (f"It raised {error['type']}: {error['message']}", help, None, None)
    after = result.get("argument_after", {})
    if after.get("value") != messages:
        return (
            "It changed the list it was given.",
            "Build and return a new list (e.g. systems + kept); do not pop from or edit the "
            "caller's history.",
            None,
            None,
        )
    value = result.get("value")
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        return (f"It returned {describe_result(result)}, not a list of messages.", "", None, None)
    if any(value == option for option in acceptable):
        return None
    expected = labels(acceptable[0], messages)
    actual = labels(value, messages)
    return (*diagnose_trim(value, messages, budget, model, acceptable[0]), expected, actual)


def diagnose_trim(
    value: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    budget: int,
    model: str,
    expected: list[dict[str, Any]],
) -> tuple[str, str]:
    positions = [position(m, messages) for m in value]
    if None in positions:
        changed = value[positions.index(None)]
        return (
            f"It returned a message that is not in the history unchanged: {short_json(changed)}.",
            "Keep messages as they are: drop whole messages, never shorten or edit them.",
        )
    missing_systems = [i for i, m in enumerate(messages) if is_system(m) and i not in positions]
    if missing_systems:
        i = missing_systems[0]
        return (
            f"It dropped the {messages[i]['role']} message at position {i}.",
            "System and developer messages are always kept; trim only the others.",
        )
    if positions != sorted(positions):
        return ("It changed the order of the messages.", "Keep the messages in their order.")
    tokens = count_request_tokens(value, model)
    if tokens > budget and len(value) == len(messages):
        return (
            f"It returned all {len(messages)} messages: nothing was dropped, and they count "
            f"{tokens:,} tokens, over the budget of {budget:,}.",
            "Drop the oldest non-system messages until the whole request fits; count it as the "
            "API does: 3 tokens per message beyond its content, and 3 for the reply.",
        )
    if tokens > budget:
        return (
            f"Its result counts {tokens:,} tokens, over the budget of {budget:,}.",
            "Each message costs 3 tokens beyond its content and the reply 3 more; count the "
            "whole request, system messages included.",
        )
    kept_others = [p for p in positions if not is_system(messages[p])]
    others = [i for i, m in enumerate(messages) if not is_system(m)]
    if kept_others != others[len(others) - len(kept_others) :]:
        newest = others[-1]
        if newest not in kept_others:
            return (
                f"It dropped the newest message ({label(messages[newest], newest)}).",
                "Drop from the oldest end: the newest message is the one being answered.",
            )
        gap = next(i for i in reversed(others) if i not in kept_others and i > min(kept_others))
        older = min(kept_others)
        return (
            f"It dropped {label(messages[gap], gap)} but kept the older "
            f"{label(messages[older], older)}.",
            "Drop the oldest messages first, so that what is kept is the most recent part.",
        )
    expected_others = [p for p in (position(m, messages) for m in expected) if p is not None]
    dropped = [i for i in others if i not in kept_others and i in expected_others]
    if dropped:
        i = dropped[-1]
        return (
            f"It dropped {label(messages[i], i)} ({message_tokens(messages[i], model):,} tokens) "
            f"although it would have fit: the result counts {tokens:,} of {budget:,} tokens.",
            "Stop dropping as soon as the request is within the budget.",
        )
    return ("Its result is not what a correct trim returns.", "")


def position(message: dict[str, Any], messages: list[dict[str, Any]]) -> int | None:
    for i, candidate in enumerate(messages):
        if candidate == message:
            return i
    return None


def label(message: dict[str, Any], index: int) -> str:
    return f"{message.get('role')} message #{index}"


def labels(value: list[dict[str, Any]], messages: list[dict[str, Any]]) -> str:
    """A compact picture of a trim: 'system#0, user#12, assistant#13, …'."""
    names = []
    for m in value:
        p = position(m, messages)
        names.append(f"{m.get('role')}#{p}" if p is not None else f"{m.get('role')}(changed)")
    return compact(names)


def describe_result(result: dict[str, Any] | None) -> str:
    if result is None:
        return "nothing"
    if "error" in result:
        return f"raised {result['error']['type']}: {result['error']['message']}"
    if "unreadable" in result:
        return f"returned {result['unreadable']}"
    value = result.get("value")
    if isinstance(value, list):
        return f"returned a list of {len(value)}"
    return f"returned {value!r}"


def short_json(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
