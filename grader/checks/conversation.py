"""Judging main(), driven by scripted lines, on every request it sent to the mock."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.cases.script import ConversationScript, Script
from grader.checks import Failure, as_conversation, check, first_line
from grader.checks.diagnosis import describe, diagnose, label, picture, short
from grader.checks.functions import counted_as
from grader.checks.reference import (
    acceptable_lengths,
    content_text,
    fitting_suffix,
    is_system,
    same,
    system_tokens,
)
from grader.i18n import N_, _, ngettext
from grader.run import CaseRun
from mock_api.core import JournalEntry
from mock_api.tokens import count_request_tokens, message_tokens

Message = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One request, with the conversation it should be a trimmed view of."""

    number: int  # the request's number, from 1
    entry: JournalEntry
    line: int  # the script line it answers, from 0
    conversation: tuple[Message, ...]  # every non-system message so far, the newest line last
    systems: tuple[Message, ...]  # the leading system/developer messages it sent
    others: tuple[Message, ...]  # the rest

    def source(self, script: ConversationScript) -> list[Message]:
        """The whole list a correct trim cuts from: the system prompt, then the conversation."""
        return [*script.system_messages, *self.conversation]


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


def where(turn: Turn) -> str:
    return _("request {number} (for line {line})").format(number=turn.number, line=turn.line + 1)


def all_turns(script: Script, run: CaseRun) -> tuple[ConversationScript, tuple[Turn, ...]]:
    script = as_conversation(script)
    return script, turns(script, run)


def ended(run: CaseRun) -> str:
    """How main() ended, in a phrase."""
    outcome = run.outcome
    error = outcome.raised
    if outcome.kind == "raised" and error:
        return _("main() raised {type}: {message}").format(type=error.type, message=error.message)
    if outcome.kind == "exit":
        return _("main() called sys.exit({code})").format(code=error.code if error else None)
    if outcome.kind == "bad_signature":
        return _(
            "main() cannot be called as main(system_prompt=..., model=..., "
            "max_input_tokens=...): {message}"
        ).format(message=error.message if error else "")
    if outcome.kind == "returned":
        return _("main() returned")
    return outcome.message or outcome.kind


def sendable(script: ConversationScript) -> list[int]:
    return [i for i in range(len(script.lines)) if i not in script.oversize]


def crash_line(script: ConversationScript, run: CaseRun, answered: set[int]) -> int | None:
    """The line main() was on when it stopped (0-based); None: at the end of input."""
    if run.read_eof:
        return None
    if run.lines_read:  # it stopped on the last line it read
        return min(run.lines_read, len(script.lines)) - 1
    last = max(answered) if answered else -1
    return last + 1 if last + 1 < len(script.lines) else None


FRAME = re.compile(r"^\S.*, line \d+, in \S")


def own_frame(traceback: str, frames: int = 2) -> str:
    """The submission's own innermost frames, outermost first, each 'file, line N, in f' and
    its line of code: where it was raised, and the call that led there (the place to catch
    an error is often the caller's)."""
    lines = [line for line in traceback.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if FRAME.match(line)][-frames:]
    shown = []
    for i in starts:
        code = [c for c in lines[i + 1 : i + 2] if not FRAME.match(c)]
        shown.append("\n".join([lines[i], *code]))
    return "\n".join(shown)


# What the usual exceptions mean, for the hint on a crash the grader has no better word for.
CRASH_MEANINGS = {
    "IndexError": N_("an index past the end of a list (or a list that is shorter than you think)"),
    "KeyError": N_("a key that the dict does not have"),
    "TypeError": N_(
        "a value of another type than the code expects, or a call with the wrong arguments"
    ),
    "AttributeError": N_("an attribute or method that the object does not have"),
    "NameError": N_("a name that is not defined where it is used"),
    "ZeroDivisionError": N_("a division by zero"),
    "RecursionError": N_("a function that calls itself without end"),
}


def crash_help(type_: str) -> str:
    """A hint for a crash that is no usual mistake of this exercise: where, and what it means."""
    meaning = CRASH_MEANINGS.get(type_)
    if meaning:
        return _("The line shown below, in your code, raised it: {type} means {meaning}.").format(
            type=type_, meaning=_(meaning)
        )
    return _("The line shown below, in your code, raised it: fix it, so main() answers every line.")


def stuck_help(stack: str) -> str:
    """A hint from the code it was stuck in: the innermost line of its own stack."""
    code = stack.strip().splitlines()[-1].strip() if stack.strip() else ""
    if code.startswith("while "):
        return _(
            "The loop shown below never ends: check its condition, and that the loop's body "
            "changes what the condition tests."
        )
    if stack:
        return _(
            "It was stuck in the code shown below: look for a loop that never ends, or a call "
            "that waits for something that never comes."
        )
    return _("Something after that never finished: a loop whose condition stays true?")


def printed_for(run: CaseRun, line: int) -> str:
    """What the REPL printed after reading this line (the tail of its output, failing that),
    cut to what names the cause: the first line of a message, or a traceback's last frame and
    exception. The prompt it printed for the next line is left out."""
    text = run.turns[line] if 0 <= line < len(run.turns) else run.output
    kept = [t.rstrip() for t in text.strip().splitlines() if t.strip()]
    prompt = run.preamble.strip().splitlines()[-1].strip() if run.preamble.strip() else ""
    if prompt and kept and kept[-1].strip() == prompt:
        kept.pop()
    if any(t.startswith("Traceback (most recent call last)") for t in kept):
        return "\n".join(kept[-3:])
    if len(kept) > 1:
        more = ngettext(
            "(and {n} more line of output)", "(and {n} more lines of output)", len(kept) - 1
        )
        return f"{kept[0]}\n{more.format(n=len(kept) - 1)}"
    return "\n".join(kept)


@check(
    kind="conversation",
    description=N_("main() answers every line and returns at the end of input"),
    doc=N_("`main()` sent one request per line and returned at the end of input"),
    blocks=N_("main() did not run to the end of input"),
    follows=("count_tokens", "trim_function"),
)
def repl_exits(script: Script, run: CaseRun) -> str:
    script, sent = all_turns(script, run)
    outcome = run.outcome
    error = outcome.raised
    lines = sendable(script)
    answered = {turn.line for turn in sent}
    unsent = [i for i in lines if i not in answered]
    if outcome.kind == "raised" and error and error.is_a("EOFError"):
        raise Failure(
            _("main() raised EOFError at the end of input."),
            _("input() raises EOFError when the input ends (Ctrl-D): catch it and return."),
            where=own_frame(error.traceback) or None,
            family="eof",
        )
    if outcome.kind == "raised" and error:
        at = crash_line(script, run, answered)
        where_ = (
            _("on input line {n} ({text})").format(n=at + 1, text=short(script.lines[at]))
            if at is not None
            else _("at the end of input")
        )
        help = ""
        family = "crash"
        if error.type == "NotImplementedError":
            help, family = _("This is still a TODO: see exercise/README.md."), "todo"
        elif at is not None and at in script.oversize and error.is_a("ValueError"):
            help, family = (
                _(
                    "Line {n} is too long for the budget even alone: catch the ValueError from "
                    "trim_history, print it, keep that line out of the history, and read the next "
                    "line."
                ).format(n=at + 1),
                "oversize_crash",
            )
        elif "special token" in error.message:
            help, family = (
                _(
                    "tiktoken refuses text like '<|endoftext|>' by default; a chat app must count "
                    "it as ordinary text: enc.encode(text, disallowed_special=())."
                ),
                "special_tokens",
            )
        frame = own_frame(error.traceback)
        if not help and frame:
            help = crash_help(error.type)
        raise Failure(
            _("main() crashed {where}: {type}: {message}").format(
                where=where_, type=error.type, message=first_line(error.message, 4000)
            ),
            help,
            where=frame or None,
            family=family,
        )
    if outcome.kind in ("timeout", "stalled"):
        stack = outcome.stack.strip()
        at = crash_line(script, run, answered)
        if at is None or not unsent:
            where_ = _("it was still running after the last line, at the end of input")
            help, family = (
                _(
                    "main() must return when the input ends: input() raises EOFError there, and "
                    "sys.stdin.readline() returns '' (test for '' before any .strip(): a blank "
                    "line strips to '' too). A loop that keeps going after that never ends."
                ),
                "eof_loop",
            )
        elif run.lines_read:
            text = short(script.lines[at])
            where_ = (
                _("it answered input line {n} ({text}), then never read line {next}").format(
                    n=at + 1, text=text, next=at + 2
                )
                if at in answered
                else _("it read input line {n} ({text}), then sent no request for it").format(
                    n=at + 1, text=text
                )
            )
            help, family = stuck_help(stack), "stuck"
        else:
            last = max(answered) if answered else None
            where_ = (
                _("after request {n} (for line {line}), line {next} was never sent").format(
                    n=len(sent), line=last + 1, next=at + 1
                )
                if last is not None
                else _("it sent no request at all")
            )
            help, family = stuck_help(stack), "stuck"
        how = (
            _("did not finish within {seconds:g} s").format(seconds=script.case.timeout)
            if outcome.kind == "timeout"
            else _("stopped making progress (it sent and read nothing for several seconds)")
        )
        raise Failure(
            _("main() {how}: {where}.").format(how=how, where=where_),
            help,
            where=stack or None,
            family=family,
        )
    if outcome.kind == "exit" and error and error.code not in (0, None):
        raise Failure(
            _("{how} instead of returning.").format(how=ended(run)),
            _("Return from main() at the end of input."),
            family="exit",
        )
    if outcome.kind == "bad_signature":
        raise Failure(
            ended(run),
            _(
                "The grader calls main(system_prompt=..., model=..., max_input_tokens=...), with "
                "those keyword names; keep main's parameters as the exercise gives them."
            ),
            family="signature",
        )
    if outcome.kind not in ("returned", "exit"):
        raise Failure(ended(run), _("main() must return normally when the input ends."))
    if unsent:
        first = unsent[0]
        printed = printed_for(run, first)
        raise Failure(
            _(
                "{how}, but line {n} ({text}) was never sent ({unsent} of {total} lines were not)."
            ).format(
                how=ended(run),
                n=first + 1,
                text=short(script.lines[first]),
                unsent=len(unsent),
                total=len(lines),
            ),
            _("Send one request per line until the input ends; only '/quit' ends the REPL early.")
            if not printed
            else _("Below is what it printed after reading that line: the cause is there."),
            actual=printed or None,
            family="unsent",
        )
    return _("main() answered all {n} lines and returned at the end of input").format(n=len(lines))


@check(
    kind="conversation",
    description=N_("main() sent requests"),
    blocks=N_("no request was sent"),
    reported=False,
)
def requests_sent(script: Script, run: CaseRun) -> None:
    if not run.journal:
        raise Failure(_("main() sent no request: {how}").format(how=ended(run)))


SENT = ("loads", "requests_sent")
EXPLAINED_BY = ("count_tokens", "trim_function")


@check(
    kind="conversation",
    description=N_("every request starts with the system message, unchanged"),
    doc=N_("every request starts with the system (or `developer`) message, unchanged"),
    depends=SENT,
    follows=EXPLAINED_BY,
)
def system_kept(script: Script, run: CaseRun) -> str:
    script, sent = all_turns(script, run)
    wanted = script.system_messages[0]["content"]
    for turn in sent:
        messages = turn.entry.messages
        first = messages[0] if messages else None
        if not is_system(first):
            elsewhere = next((i for i, m in enumerate(messages) if is_system(m)), None)
            if elsewhere is not None:
                raise Failure(
                    _(
                        "{where} has the system message at place {place} of {count}, not first: "
                        "system messages stay where they stand."
                    ).format(where=where(turn), place=elsewhere + 1, count=len(messages)),
                    _(
                        "The system message stays first, where it stands in the history: "
                        "neither the trim nor the list you send may move it."
                    ),
                    family="system_moved",
                    request=turn.number,
                )
            raise Failure(
                _("{where} has no system message; it starts with {first}.").format(
                    where=where(turn), first=describe(first)
                ),
                _(
                    "The system (or developer) message is never trimmed: drop only the other "
                    "messages, oldest first."
                ),
                expected=describe({"role": "system", "content": wanted}),
                actual=describe(first),
                family="system_dropped",
                request=turn.number,
            )
        if content_text(first.get("content")) != wanted:
            raise Failure(
                _("{where} changed the system message.").format(where=where(turn)),
                _("Send the system prompt exactly as given to main()."),
                expected=short(wanted, 200),
                actual=short(first.get("content"), 200),
                family="system_changed",
                request=turn.number,
            )
    return _("all {n} requests start with the system message").format(n=len(sent))


def kept_counts(sent: Sequence[Turn]) -> set[int]:
    """How many non-system messages each request that dropped something kept."""
    return {len(t.others) for t in sent if len(t.others) < len(t.conversation)}


def over_trimmed(turn: Turn, budget: int, model: str) -> bool:
    """Whether this request dropped a message that would have fit beside what it sent."""
    conversation = list(turn.conversation)
    fitting = fitting_suffix(conversation, system_tokens(list(turn.systems), model), budget, model)
    return len(turn.others) < min(acceptable_lengths(conversation, fitting))


def trimmed_with(turn: Turn, budget: int, model: str) -> tuple[str, str] | None:
    """A usual counting mistake under which this request is exactly a correct trim."""
    source = [*turn.systems, *turn.conversation]
    return counted_as(source, list(turn.entry.messages), budget, model)


@check(
    kind="conversation",
    description=N_("every request is within the input-token budget"),
    doc=N_("every request's input tokens, by the grader's own count, are within the budget"),
    depends=SENT,
    follows=EXPLAINED_BY,
)
def under_budget(script: Script, run: CaseRun) -> str:
    script, sent = all_turns(script, run)
    budget, model = script.case.budget, script.case.model
    never_trimmed = all(len(t.others) >= len(t.conversation) for t in sent)
    largest = 0
    set_aside: list[int] = []  # over the budget, but for a line too long even alone
    for turn in sent:
        messages = turn.entry.messages
        if not messages or not all(isinstance(m, dict) for m in messages):
            raise Failure(
                _("{where} was not a valid chat request: {error}").format(
                    where=where(turn), error=turn.entry.error
                )
            )
        tokens = count_request_tokens(messages, model)
        if turn.line in script.oversize:
            if tokens > budget:
                set_aside.append(turn.number)
            continue  # a line too long even alone: oversize_handled judges that request
        largest = max(largest, tokens)
        if tokens <= budget:
            continue
        counts = kept_counts(sent)
        mistake = trimmed_with(turn, budget, model)
        if never_trimmed:
            family, help = (
                "never_trims",
                _(
                    "No request dropped anything: every one carried the whole conversation. Trim "
                    "before every request: count the whole list you are about to send, and drop "
                    "the oldest non-system messages until it fits."
                ),
            )
        elif len(counts) == 1 and any(over_trimmed(t, budget, model) for t in sent):
            family, help = (
                "fixed_window",
                _(
                    "Every request that dropped something kept exactly {n} messages after the "
                    "system message, whatever they cost: this one is over the budget, others "
                    "dropped what would have fit. Trim by tokens, not by a fixed number of "
                    "messages."
                ).format(n=next(iter(counts))),
            )
        elif mistake:
            family, what = mistake
            help = _(
                "This request is what a trim keeps when it counts {what}: count the whole "
                "request as the API does, 3 per message and 3 for the reply included."
            ).format(what=what)
        else:
            family, help = (
                "over_budget",
                _(
                    "Trim before every request: count the whole list you are about to send, and "
                    "drop the oldest non-system messages until it fits."
                ),
            )
        rationale = _(
            "{where} sent {tokens:,} input tokens in {n} messages, over the budget of {budget:,}."
        ).format(where=where(turn), tokens=tokens, n=len(messages), budget=budget)
        if set_aside:
            rationale += " " + ngettext(
                "(Request {numbers} is over too, but its line is too long even alone: see "
                "oversize_handled.)",
                "(Requests {numbers} are over too, but their lines are too long even alone: see "
                "oversize_handled.)",
                len(set_aside),
            ).format(numbers=", ".join(map(str, set_aside)))
        raise Failure(
            rationale,
            help,
            family=family,
            request=turn.number,
        )
    return _("all {n} requests within {budget:,} tokens (the largest: {largest:,})").format(
        n=len(sent), budget=budget, largest=largest
    )


@check(
    kind="conversation",
    description=N_("every request carries the earlier replies"),
    doc=N_(
        "every request carries the previous reply, unless trimming left room for the newest "
        "line only"
    ),
    depends=SENT,
    blocks=N_("a reply was missing from a request"),
    follows=EXPLAINED_BY,
)
def history_kept(script: Script, run: CaseRun) -> str:
    script, sent = all_turns(script, run)
    for turn in sent[1:]:
        previous = sent[turn.number - 2].entry.reply
        if previous is None or len(turn.others) < 2:
            continue  # nothing to carry, or trimming left room for the newest line only
        if not same(turn.others[-1], turn.conversation[-1]):
            continue  # it dropped the newest line itself: oldest_first says so, not this check
        if any(
            m.get("role") == "assistant" and content_text(m.get("content")) == previous
            for m in turn.others
            if isinstance(m, dict)
        ):
            continue
        replies = sum(
            1 for m in turn.others if isinstance(m, dict) and m.get("role") == "assistant"
        )
        raise Failure(
            _(
                "{where} does not carry the previous reply {reply}: of the {n} messages after "
                "the system message, {replies} are replies."
            ).format(where=where(turn), reply=short(previous), replies=replies, n=len(turn.others)),
            _(
                "The API remembers nothing between requests: append every reply to the history "
                "as {'role': 'assistant', 'content': reply}."
            ),
            family="forgets_replies",
            request=turn.number,
        )
    return _("every request carried the previous reply")


@check(
    kind="conversation",
    description=N_("trimming drops whole messages, the oldest first"),
    doc=N_(
        "the other messages are a contiguous, unchanged, in-order suffix of the conversation so "
        "far, the newest line last"
    ),
    depends=(*SENT, "history_kept"),
    follows=EXPLAINED_BY,
)
def oldest_first(script: Script, run: CaseRun) -> str:
    script, sent = all_turns(script, run)
    model = script.case.model
    for turn in sent:
        source = turn.source(script)
        messages = list(turn.entry.messages)
        n = len(turn.others)
        if 0 < n <= len(turn.conversation) and all(
            same(a, b) for a, b in zip(turn.others, turn.conversation[-n:], strict=True)
        ):
            continue
        if n == 0:
            raise Failure(
                _("{where} sent only system messages, not the newest line.").format(
                    where=where(turn)
                ),
                _("The newest user line is the one being answered; it must be last."),
                family="newest_dropped",
                request=turn.number,
            )
        kept = sum(1 for m in turn.others if not is_system(m))
        systems = len(script.system_messages)
        correct = [*range(systems), *range(max(systems, len(source) - kept), len(source))]
        finding = diagnose(messages, source, 10**9, model, correct)
        if finding is None or finding.family in ("system_dropped", "system_moved", "never_trims"):
            continue  # for system_kept and under_budget to say
        raise Failure(
            f"{where(turn)}: {finding.rationale[:1].lower()}{finding.rationale[1:]}",
            finding.hint,
            expected=finding.expected,
            actual=finding.actual,
            family=finding.family,
            request=turn.number,
        )
    return _("every request sent the newest part of the conversation")


@check(
    kind="conversation",
    description=N_("nothing is dropped that would have fit"),
    doc=N_(
        "nothing was dropped that would have fit (dropping a user message together with the "
        "reply after it is allowed)"
    ),
    depends=(*SENT, "system_kept", "under_budget", "oldest_first"),
    follows=EXPLAINED_BY,
)
def not_over_trimmed(script: Script, run: CaseRun) -> str:
    script, sent = all_turns(script, run)
    budget, model = script.case.budget, script.case.model
    for turn in sent:
        if turn.line in script.oversize:
            continue  # a line too long even alone: oversize_handled judges that request
        conversation = list(turn.conversation)
        fixed = system_tokens(list(turn.systems), model)
        fitting = fitting_suffix(conversation, fixed, budget, model)
        if len(turn.others) in acceptable_lengths(conversation, fitting):
            continue
        source = turn.source(script)
        dropped_at = len(source) - len(turn.others) - 1
        dropped = source[dropped_at]
        tokens = count_request_tokens(turn.entry.messages, model)
        counts = kept_counts(sent)
        if len(turn.others) == 1:
            family, help = (
                "clears_history",
                _(
                    "It kept only the newest line: clearing the history drops too much. Drop the "
                    "oldest messages one at a time, only while the request is over the budget."
                ),
            )
        elif len(counts) == 1 and sum(len(t.others) < len(t.conversation) for t in sent) >= 2:
            family, help = (
                "fixed_window",
                _(
                    "Every request that dropped something kept exactly {n} messages after the "
                    "system message, whatever they cost: trim by tokens, not by a fixed number of "
                    "messages."
                ).format(n=next(iter(counts))),
            )
        else:
            family, help = (
                "over_trimmed",
                _("Stop dropping as soon as the request is within the budget."),
            )
        raise Failure(
            _(
                "{where} sent {kept} of the {total} messages after the system message "
                "({tokens:,} of {budget:,} tokens), but the newest {fitting} would have fit: "
                "{label} ({size:,} tokens) was dropped although there was room."
            ).format(
                where=where(turn),
                kept=len(turn.others),
                total=len(conversation),
                tokens=tokens,
                budget=budget,
                fitting=fitting,
                label=label(dropped_at, dropped),
                size=message_tokens(dropped, model),
            ),
            help,
            expected=picture(
                [*range(len(script.system_messages)), *range(len(source) - fitting, len(source))],
                source,
            ),
            actual=picture(
                [
                    *range(len(script.system_messages)),
                    *range(len(source) - len(turn.others), len(source)),
                ],
                source,
            ),
            family=family,
            request=turn.number,
        )
    return _("every request kept as much history as fit")


def has_oversize(script: Script) -> bool:
    return script.kind == "conversation" and bool(script.oversize)


@check(
    kind="conversation",
    description=N_("a line too long for the budget is refused, and the REPL goes on"),
    doc=N_("a line over the budget on its own is never sent nor kept, and the REPL goes on"),
    applies=has_oversize,
    when=N_("with a line over the budget on its own"),
    depends=(*SENT, "repl_exits"),  # a crash or a hang is told once, where it happened
    follows=EXPLAINED_BY,
)
def oversize_handled(script: Script, run: CaseRun) -> str:
    """Judged only once repl_exits passed: main() answered every other line and returned, so
    what is left to see is whether the line too long was sent."""
    script, sent = all_turns(script, run)
    model, budget = script.case.model, script.case.budget
    for line in sorted(script.oversize):
        text = script.lines[line]
        need = count_request_tokens(
            [*script.system_messages, {"role": "user", "content": text}], model
        )
        for turn in sent:
            if any(
                isinstance(m, dict) and content_text(m.get("content")) == text
                for m in turn.entry.messages
            ):
                raise Failure(
                    _(
                        "line {n} needs {need:,} tokens with the system message alone, over the "
                        "budget of {budget:,}, but request {number} sent it."
                    ).format(n=line + 1, need=need, budget=budget, number=turn.number),
                    _(
                        "A line that cannot fit even alone must not be sent or kept: print an "
                        "error, leave it out of the history, and read the next line."
                    ),
                    family="oversize_sent",
                    request=turn.number,
                )
    return _("{n} line(s) over the budget were refused and the REPL went on").format(
        n=len(script.oversize)
    )
