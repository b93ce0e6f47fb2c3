"""Judging, shared: what a trim kept and dropped, read against the list it was given.

Both the function checks (trim_history's result against its argument) and the conversation
checks (a request against the system prompt and the conversation so far) use this one library.
Messages are identified by position, never by equality alone: a history may repeat a message
word for word, so each kept message is matched to its place by aligning from the newest end,
where a correct trim keeps its messages. Every report numbers messages the same way: ``#1`` is
the first message of the whole list, system messages included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.checks.reference import content_text, is_system, same
from grader.i18n import _
from mock_api.tokens import count_request_tokens, message_tokens

Message = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """What a trim did wrong: the family of the cause, the words, and both sides."""

    family: str
    rationale: str
    hint: str
    expected: str | None = None
    actual: str | None = None


def align(kept: Sequence[Any], source: Sequence[Message]) -> list[int | None]:
    """Each kept message's position in ``source``, or None where it cannot stand in order.

    System messages are matched among the source's system messages, the others among the
    others, each from the newest end to the latest equal message before the one matched after
    it: a trim keeps the newest, so a repeated message is taken to be its newest copy.
    """
    positions: list[int | None] = [None] * len(kept)
    for systems in (True, False):
        places = [i for i, m in enumerate(source) if is_system(m) == systems]
        limit = len(places)
        for k in range(len(kept) - 1, -1, -1):
            if is_system(kept[k]) != systems:
                continue
            found = next((j for j in range(limit - 1, -1, -1) if same(kept[k], source[places[j]])),
                         None)  # fmt: skip
            if found is not None:
                positions[k] = places[found]
                limit = found
    return positions


def moved_system(kept: Sequence[Any], positions: Sequence[int | None]) -> tuple[int, int] | None:
    """A system message kept out of its place among the others: (its kept index, its position).

    In place means: as many kept others stand before it as stood before it in the source.
    """
    others = [p for m, p in zip(kept, positions, strict=True) if p is not None and not is_system(m)]
    for k, (message, p) in enumerate(zip(kept, positions, strict=True)):
        if p is None or not is_system(message):
            continue
        before = sum(1 for m in kept[:k] if not is_system(m))
        if before != sum(1 for o in others if o < p):
            return k, p
    return None


def label(index: int, message: Any) -> str:
    """A message by its place in the whole list: '#3 user'."""
    role = message.get("role") if isinstance(message, dict) else type(message).__name__
    return f"#{index + 1} {role}"


def describe(message: Any, limit: int = 60) -> str:
    if not isinstance(message, dict):
        return repr(message)[:limit]
    return f"{message.get('role')}: {short(message.get('content'), limit)}"


def short(text: Any, limit: int = 60) -> str:
    text = str(content_text(text)).replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def compact(names: list[str]) -> str:
    """A list of message labels, its middle elided past a dozen: '[#1 system, #2 user, …]'."""
    if len(names) > 12:
        names = [*names[:5], _("… {n} more …").format(n=len(names) - 10), *names[-5:]]
    return "[" + ", ".join(names) + "]"


def picture(indexes: Sequence[int], source: Sequence[Message]) -> str:
    return compact([label(i, source[i]) for i in indexes])


def picture_of(kept: Sequence[Any], positions: Sequence[int | None]) -> str:
    names = []
    for message, p in zip(kept, positions, strict=True):
        names.append(
            label(p, message)
            if p is not None
            else _("{role} (changed)").format(
                role=message.get("role") if isinstance(message, dict) else "?"
            )
        )
    return compact(names)


def anywhere(message: Any, source: Sequence[Message]) -> int | None:
    return next((i for i, m in enumerate(source) if same(message, m)), None)


def diagnose(
    kept: Sequence[Any],
    source: Sequence[Message],
    budget: int,
    model: str,
    correct: Sequence[int],
) -> Finding | None:
    """Why ``kept`` is not a correct trim of ``source``; None if nothing here explains it.

    ``correct``: the positions a correct trim keeps, to show beside what was kept.
    """
    positions = align(kept, source)
    expected = picture(correct, source)
    actual = picture_of(kept, positions)
    moved = moved_system(kept, positions)
    if moved is not None:
        k, p = moved
        return Finding(
            "system_moved",
            _(
                "It moved the {role} message {label} to place {place} of {count}: system and "
                "developer messages stay where they stand."
            ).format(
                role=source[p].get("role"), label=label(p, source[p]), place=k + 1, count=len(kept)
            ),
            _(
                "Keep what you keep in the order it was given: a system message stays where it "
                "stands, never moved to the end."
            ),
            expected,
            actual,
        )
    for k, p in enumerate(positions):
        if p is not None:
            continue
        message = kept[k]
        elsewhere = anywhere(message, source)
        if elsewhere is None:
            return Finding(
                "edited",
                _("It kept an edited copy of a message, not the message itself: {message}.").format(
                    message=describe(message)
                ),
                _("Keep messages as they are: drop whole messages, never shorten or edit them."),
                expected,
                actual,
            )
        return Finding(
            "order",
            _("It changed the order of the messages: {label} is out of place.").format(
                label=label(elsewhere, source[elsewhere])
            ),
            _("Keep the messages in their order."),
            expected,
            actual,
        )
    kept_at = [p for p in positions if p is not None]
    systems = [i for i, m in enumerate(source) if is_system(m)]
    dropped_systems = [i for i in systems if i not in kept_at]
    if dropped_systems:
        i = dropped_systems[0]
        return Finding(
            "system_dropped",
            _("It dropped {label}, the {role} message.").format(
                role=source[i].get("role"), label=label(i, source[i])
            ),
            _("System and developer messages are always kept; trim only the others."),
            expected,
            actual,
        )
    others = [i for i in range(len(source)) if i not in systems]
    kept_others = [i for i in kept_at if i not in systems]
    tokens = count_request_tokens(kept, model)
    if tokens > budget:
        if len(kept_others) == len(others):
            return Finding(
                "never_trims",
                _(
                    "Nothing was dropped: all {count} messages were kept, and they count "
                    "{tokens:,} tokens, over the budget of {budget:,}."
                ).format(count=len(source), tokens=tokens, budget=budget),
                _(
                    "Count the whole list, and drop the oldest non-system messages until it fits "
                    "max_input_tokens, the budget it was given (here {budget:,})."
                ).format(budget=budget),
                expected,
                actual,
            )
        return Finding(
            "over_budget",
            _("What it kept counts {tokens:,} tokens, over the budget of {budget:,}.").format(
                tokens=tokens, budget=budget
            ),
            "",
            expected,
            actual,
        )
    if others and others[-1] not in kept_others:
        newest = others[-1]
        return Finding(
            "newest_dropped",
            _("It dropped the newest message, {label} {text}.").format(
                label=label(newest, source[newest]), text=short(source[newest].get("content"))
            ),
            _("Drop from the oldest end: the newest message is the one being answered."),
            expected,
            actual,
        )
    if kept_others and kept_others != others[len(others) - len(kept_others) :]:
        oldest = min(kept_others)
        gap = next(i for i in reversed(others) if i not in kept_others and i > oldest)
        return Finding(
            "gap",
            _("It dropped {newer} but kept the older {older}.").format(
                newer=label(gap, source[gap]), older=label(oldest, source[oldest])
            ),
            _("Drop the oldest messages first, so that what is kept is the most recent part."),
            expected,
            actual,
        )
    missing = [i for i in correct if i not in kept_at]
    if missing:
        i = missing[-1]
        return Finding(
            "over_trimmed",
            _(
                "It dropped {label} ({tokens:,} tokens) although it would have fit: what it "
                "kept counts {total:,} of {budget:,} tokens."
            ).format(
                label=label(i, source[i]),
                tokens=message_tokens(source[i], model),
                total=tokens,
                budget=budget,
            ),
            _("Stop dropping as soon as the request is within the budget."),
            expected,
            actual,
        )
    return None
