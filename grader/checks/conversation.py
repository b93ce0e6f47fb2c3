"""main(), driven by scripted lines, judged on every request it sent to the mock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.cases.script import ConversationScript, Script
from grader.checks import Failure, check, compact
from grader.checks.reference import (
    acceptable_lengths,
    content_text,
    fitting_suffix,
    is_system,
    same,
    system_tokens,
)
from grader.run import CaseRun
from mock_api.core import JournalEntry
from mock_api.tokens import content_strings, count_request_tokens, message_tokens, text_tokens

Message = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One request, with the conversation it should be a trimmed view of."""

    number: int  # the request's number, from 1
    entry: JournalEntry
    line: int  # the script line it answers
    conversation: tuple[Message, ...]  # every message so far, the newest line last
    systems: tuple[Message, ...]  # the leading system/developer messages it sent
    others: tuple[Message, ...]  # the rest


def turns(script: ConversationScript, run: CaseRun) -> tuple[Turn, ...]:
    cached = getattr(run, "_turns", None)
    if cached is None:
        cached = pair_requests(script, run)
        run._turns = cached  # type: ignore[attr-defined]
    return cached


def pair_requests(script: ConversationScript, run: CaseRun) -> tuple[Turn, ...]:
    """Pair each request with the line it answers and the conversation so far.

    A request belongs to the first line, from where the last one left off, that it ends with;
    a request that ends with none of them (it dropped the newest line, say) belongs to the next
    line that could be sent.
    """
    result = []
    history: list[Message] = []
    next_line = 0
    for entry in run.journal:
        messages = entry.messages
        line = match_line(script, messages[-1] if messages else None, next_line)
        if line is None:
            line = next(
                (i for i in range(next_line, len(script.lines)) if i not in script.oversize),
                len(script.lines) - 1,
            )
        conversation = (*history, {"role": "user", "content": script.lines[line]})
        leading = 0
        while leading < len(messages) and is_system(messages[leading]):
            leading += 1
        result.append(
            Turn(
                len(result) + 1,
                entry,
                line,
                conversation,
                tuple(messages[:leading]),
                tuple(messages[leading:]),
            )
        )
        history = list(conversation)
        if entry.reply is not None:
            history.append({"role": "assistant", "content": entry.reply})
        next_line = line + 1
    return tuple(result)


def match_line(script: ConversationScript, last: Any, start: int) -> int | None:
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    for i in range(start, len(script.lines)):
        if content_text(last.get("content")) == script.lines[i]:
            return i
    return None


def where(script: Script, turn: Turn) -> str:
    return f"request {turn.number} of case {script.case.id}"


def short(text: Any, limit: int = 60) -> str:
    text = str(text).replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def describe(message: Any) -> str:
    if not isinstance(message, dict):
        return repr(message)[:60]
    return f"{message.get('role')}: {short(message.get('content'))}"


def conversation_turns(script: Script, run: CaseRun) -> tuple[ConversationScript, tuple[Turn, ...]]:
    assert isinstance(script, ConversationScript)
    return script, turns(script, run)


def ended(run: CaseRun) -> str:
    """How main() ended, in a phrase."""
    outcome = run.outcome
    error = outcome.error or {}
    if outcome.kind == "raised":
        return f"main() raised {error.get('type')}: {error.get('message')}"
    if outcome.kind == "exit":
        return f"main() called sys.exit({error.get('code')})"
    if outcome.kind == "bad_signature":
        return (
            "main() cannot be called as main(system_prompt=..., model=..., "
            f"max_input_tokens=...): {error.get('message')}"
        )
    if outcome.kind == "returned":
        return "main() returned"
    return outcome.message or outcome.kind


@check("requests_sent", "main() sent requests", "conversation")
def requests_sent(script: Script, run: CaseRun) -> None:
    if not run.journal:
        raise Failure(f"main() sent no request: {ended(run)}")


@check(
    "system_kept",
    "every request starts with the system message, unchanged",
    "conversation",
    ("loads", "requests_sent"),
)
def system_kept(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    wanted = script.system_messages[0]["content"]
    for turn in all_turns:
        messages = turn.entry.messages
        first = messages[0] if messages else None
        if not is_system(first):
            elsewhere = next((i for i, m in enumerate(messages) if is_system(m)), None)
            if elsewhere is not None:
                raise Failure(
                    f"{where(script, turn)} has the system message at position {elsewhere}, "
                    "not first.",
                    "Keep the system message at the start of the list you send.",
                    request=turn.number,
                )
            raise Failure(
                f"{where(script, turn)} has no system message; it starts with {describe(first)}.",
                "The system (or developer) message is never trimmed: drop only the other "
                "messages, oldest first.",
                expected=describe({"role": "system", "content": wanted}),
                actual=describe(first),
                request=turn.number,
            )
        if content_text(first.get("content")) != wanted:
            raise Failure(
                f"{where(script, turn)} changed the system message.",
                "Send the system prompt exactly as given to main().",
                expected=short(wanted, 200),
                actual=short(first.get("content"), 200),
                request=turn.number,
            )
    return f"all {len(all_turns)} requests start with the system message"


@check(
    "under_budget",
    "every request is within the input-token budget",
    "conversation",
    ("loads", "requests_sent"),
)
def under_budget(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    budget, model = script.case.budget, script.case.model
    # A run that never dropped a message has no trim at all, whatever the overshoot.
    never_trimmed = all(len(t.others) >= len(t.conversation) for t in all_turns)
    largest = 0
    for turn in all_turns:
        messages = turn.entry.messages
        if not messages or not all(isinstance(m, dict) for m in messages):
            raise Failure(
                f"{where(script, turn)} was not a valid chat request: {turn.entry.error}",
                request=turn.number,
            )
        tokens = count_request_tokens(messages, model)
        largest = max(largest, tokens)
        if tokens > budget:
            over = tokens - budget
            if never_trimmed:
                help = (
                    "No request dropped anything: every one carried the whole conversation. "
                    "Trim before every request: count the whole list you are about to send, "
                    "and drop the oldest non-system messages until it fits."
                )
            elif over <= tokens - content_tokens(messages, model):
                help = (
                    "Each message costs 3 tokens beyond its content (and its role's tokens), "
                    "and the request 3 more for the reply; does your count include them?"
                )
            else:
                help = (
                    "Trim before every request: count the whole list you are about to send, "
                    "and drop the oldest non-system messages until it fits."
                )
            raise Failure(
                f"{where(script, turn)} sent {tokens:,} input tokens, over the budget of "
                f"{budget:,}.",
                help,
                expected=f"at most {budget:,} tokens",
                actual=f"{tokens:,} tokens in {len(messages)} messages",
                request=turn.number,
            )
    return f"all {len(all_turns)} requests within {budget:,} tokens (the largest: {largest:,})"


@check(
    "history_kept",
    "every request carries the earlier replies",
    "conversation",
    ("loads", "requests_sent"),
)
def history_kept(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    for turn in all_turns[1:]:
        previous = all_turns[turn.number - 2].entry.reply
        if previous is None or len(turn.others) < 2:
            continue  # nothing to carry, or trimming left room for the newest line only
        if not same(turn.others[-1], turn.conversation[-1]):
            continue  # it dropped the newest line itself: oldest_first says so, not this check
        if not any(
            m.get("role") == "assistant" and content_text(m.get("content")) == previous
            for m in turn.others
            if isinstance(m, dict)
        ):
            replies = sum(
                1 for m in turn.others if isinstance(m, dict) and m.get("role") == "assistant"
            )
            raise Failure(
                f"{where(script, turn)} does not carry the previous reply "
                f"{short(previous)}; it holds {replies} assistant messages among "
                f"{len(turn.others)}.",
                "The API remembers nothing between requests: append every reply to the "
                "history as {'role': 'assistant', 'content': reply}.",
                request=turn.number,
            )
    return "every request carried the previous reply"


@check(
    "oldest_first",
    "trimming drops the oldest messages first",
    "conversation",
    ("loads", "requests_sent", "history_kept"),
)
def oldest_first(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    for turn in all_turns:
        problem = suffix_problem(turn)
        if problem:
            raise Failure(
                f"{where(script, turn)} {problem[0]}",
                problem[1],
                expected=problem[2],
                actual=problem[3],
                request=turn.number,
            )
    return "every request sent the newest part of the conversation"


def suffix_problem(turn: Turn) -> tuple[str, str, str | None, str | None] | None:
    sent, conversation = list(turn.others), list(turn.conversation)
    if any(is_system(m) for m in sent):
        return (
            "puts a system message after the conversation started.",
            "Keep system messages first.",
            None,
            None,
        )
    n = len(sent)
    if 0 < n <= len(conversation) and all(
        same(a, b) for a, b in zip(sent, conversation[-n:], strict=True)
    ):
        return None
    if n == 0:
        return (
            "sent only system messages, not the newest line.",
            "The newest user line is the one being answered; it must be last.",
            None,
            None,
        )
    positions = locate(sent, conversation)
    newest = len(conversation) - 1
    picture_expected = picture(range(len(conversation)), conversation)
    picture_actual = picture_of(positions, sent)
    if None in positions:
        bad = sent[positions.index(None)]
        return (
            f"sent a message that is not in the conversation as it was: {describe(bad)}.",
            "Send messages unchanged: drop whole messages, never shorten or edit them.",
            picture_expected,
            picture_actual,
        )
    if newest not in positions:
        return (
            f"does not end with the newest line {short(conversation[-1]['content'])}; it "
            f"ends with {describe(sent[-1])}.",
            "Drop from the oldest end: the newest line is the one being answered, so it is "
            "always sent, last.",
            picture_expected,
            picture_actual,
        )
    kept = [p for p in positions if p is not None]
    if kept != sorted(kept) or len(set(kept)) != len(kept):
        return (
            "sent the conversation out of order.",
            "Keep the messages in their order.",
            picture_expected,
            picture_actual,
        )
    oldest = kept[0]
    gap = next(i for i in range(newest, oldest, -1) if i not in kept)
    return (
        f"dropped message #{gap} ({describe(conversation[gap])}) but kept the older "
        f"message #{oldest} ({describe(conversation[oldest])}).",
        "Drop the oldest messages first, so that what is sent is always the most recent "
        "part of the conversation.",
        picture_expected,
        picture_actual,
    )


def content_tokens(messages: list[Message], model: str) -> int:
    """The tokens of the messages' contents alone: what a count without the overhead gives."""
    return sum(
        text_tokens(text, model) for m in messages for text in content_strings(m.get("content"))
    )


def locate(sent: list[Message], conversation: list[Message]) -> list[int | None]:
    """Each sent message's place in the conversation, matching forwards."""
    positions: list[int | None] = []
    start = 0
    for message in sent:
        found = next(
            (i for i in range(start, len(conversation)) if same(message, conversation[i])), None
        )
        if found is None:
            found = next(
                (i for i in range(len(conversation)) if same(message, conversation[i])), None
            )
        positions.append(found)
        if found is not None:
            start = found + 1
    return positions


def picture(indexes: Any, conversation: list[Message]) -> str:
    return compact([f"{conversation[i].get('role')}#{i}" for i in indexes])


def picture_of(positions: list[int | None], sent: list[Message]) -> str:
    names = []
    for message, p in zip(sent, positions, strict=True):
        role = message.get("role")
        names.append(f"{role}#{p}" if p is not None else f"{role}(not in the conversation)")
    return compact(names)


@check(
    "not_over_trimmed",
    "nothing is dropped that would have fit",
    "conversation",
    ("loads", "requests_sent", "system_kept", "under_budget", "oldest_first"),
)
def not_over_trimmed(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    budget, model = script.case.budget, script.case.model
    for turn in all_turns:
        conversation = list(turn.conversation)
        fixed = system_tokens(list(turn.systems), model)
        fitting = fitting_suffix(conversation, fixed, budget, model)
        if len(turn.others) in acceptable_lengths(conversation, fitting):
            continue
        dropped = conversation[len(conversation) - len(turn.others) - 1]
        sent = count_request_tokens(turn.entry.messages, model)
        raise Failure(
            f"{where(script, turn)} sent {len(turn.others)} of the {len(conversation)} messages "
            f"so far ({sent:,} of {budget:,} tokens), but the newest {fitting} would have fit: "
            f"{describe(dropped)} ({message_tokens(dropped, model):,} tokens) was dropped "
            "although there was room.",
            "Drop only while the request is over the budget; a fixed window of N messages or "
            "clearing the history drops too much.",
            expected=f"{fitting} messages after the system message",
            actual=f"{len(turn.others)} messages",
            request=turn.number,
        )
    return "every request kept as much history as fit"


@check(
    "oversize_handled",
    "a line too long for the budget is refused, and the REPL goes on",
    "conversation",
    ("loads", "requests_sent"),
)
def oversize_handled(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    model, budget = script.case.model, script.case.budget
    for line in sorted(script.oversize):
        text = script.lines[line]
        need = count_request_tokens(
            [*script.system_messages, {"role": "user", "content": text}], model
        )
        for turn in all_turns:
            if any(
                isinstance(m, dict) and content_text(m.get("content")) == text
                for m in turn.entry.messages
            ):
                raise Failure(
                    f"line {line + 1} needs {need:,} tokens with the system message alone, over "
                    f"the budget of {budget:,}, but request {turn.number} sent it.",
                    "A line that cannot fit even alone must not be sent or kept: print an "
                    "error, leave it out of the history, and read the next line.",
                    request=turn.number,
                )
        later = [i for i in range(line + 1, len(script.lines)) if i not in script.oversize]
        if later and not any(turn.line > line for turn in all_turns):
            raise Failure(
                f"after line {line + 1} (too long for the budget) no later line was sent: "
                f"{ended(run)}.",
                "Catch the error (e.g. the ValueError from trim_history), print it, and go on "
                "reading lines.",
            )
    return f"{len(script.oversize)} line(s) over the budget were refused and the REPL went on"


@check("repl_exits", "main() returns cleanly at the end of input", "conversation")
def repl_exits(script: Script, run: CaseRun) -> str:
    script, all_turns = conversation_turns(script, run)
    outcome = run.outcome
    error = outcome.error or {}
    sendable = [i for i in range(len(script.lines)) if i not in script.oversize]
    answered = {turn.line for turn in all_turns}
    unsent = [i for i in sendable if i not in answered]
    if outcome.kind == "raised" and error.get("type") == "EOFError":
        raise Failure(
            "main() raised EOFError at the end of input.",
            "input() raises EOFError when the input ends (Ctrl-D): catch it and return.",
            actual=error.get("traceback") or None,
        )
    if outcome.kind == "raised":
        help = (
            "This is still a TODO: see exercise/README.md."
            if error.get("type") == "NotImplementedError"
            else ""
        )
        raise Failure(f"{ended(run)}", help, actual=error.get("traceback") or None)
    if outcome.kind == "timeout":
        where_ = f"after line {max(answered) + 1}" if answered else "before sending anything"
        raise Failure(
            f"main() {outcome.message}; it stopped making progress {where_}.",
            "main() must return when the input ends: input() raises EOFError there (and "
            "sys.stdin.readline() returns ''). A loop that keeps going after that never ends.",
        )
    if outcome.kind == "exit" and error.get("code") not in (0, None):
        raise Failure(
            f"{ended(run)} instead of returning.", "Return from main() at the end of input."
        )
    if outcome.kind == "bad_signature":
        raise Failure(
            ended(run),
            "The grader calls main(system_prompt=..., model=..., max_input_tokens=...), with "
            "those keyword names; keep main's parameters as the exercise gives them.",
        )
    if outcome.kind not in ("returned", "exit"):
        raise Failure(ended(run), "main() must return normally when the input ends.")
    if unsent:
        first = unsent[0]
        raise Failure(
            f"{ended(run)}, but line {first + 1} ({short(script.lines[first])}) was never sent "
            f"({len(unsent)} of {len(sendable)} lines were not).",
            "Send one request per line until the input ends; only '/quit' ends the REPL early.",
        )
    return f"main() answered all {len(sendable)} lines and returned at the end of input"
