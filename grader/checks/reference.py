"""The grader's own notion of a correct trim, which every check measures submissions against.

Kept: every system or developer message, where it stands, and the longest run of newest other
messages that fits the budget. Also accepted: that run minus its oldest message when that one
is an assistant reply whose user turn was dropped (trimming by user-assistant pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mock_api.tokens import REPLY_PRIMING, message_tokens

Message = dict[str, Any]
SYSTEM_ROLES = ("system", "developer")


def is_system(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") in SYSTEM_ROLES


def content_text(content: Any) -> Any:
    """Content as the model reads it: a list of text parts is the same as their joined text."""
    if (
        isinstance(content, list)
        and content
        and all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            for p in content
        )
    ):
        return "".join(p["text"] for p in content)
    return content


def same(a: Any, b: Any) -> bool:
    """Equal as the API sees a message: role and content (SDK objects add empty fields; content
    may be a string or a list of text parts)."""
    return (
        isinstance(a, dict)
        and isinstance(b, dict)
        and a.get("role") == b.get("role")
        and content_text(a.get("content")) == content_text(b.get("content"))
    )


def fitting_suffix(others: Sequence[Message], fixed_tokens: int, budget: int, model: str) -> int:
    """How many of the newest ``others`` fit beside ``fixed_tokens`` (systems and priming)."""
    total = fixed_tokens
    kept = 0
    for message in reversed(others):
        total += message_tokens(message, model)
        if total > budget:
            break
        kept += 1
    return kept


def acceptable_lengths(others: Sequence[Message], fitting: int) -> tuple[int, ...]:
    """The suffix lengths a correct trim may keep: the fitting one, or one fewer for a pair."""
    if fitting >= 2 and others[len(others) - fitting].get("role") == "assistant":
        return (fitting, fitting - 1)
    return (fitting,)


def system_tokens(messages: Sequence[Message], model: str) -> int:
    return REPLY_PRIMING + sum(message_tokens(m, model) for m in messages if is_system(m))


def acceptable_trims(
    messages: Sequence[Message], budget: int, model: str
) -> list[list[Message]] | None:
    """The results a correct ``trim_history`` may return; None where it must raise ValueError."""
    others = [m for m in messages if not is_system(m)]
    fixed = system_tokens(messages, model)
    fitting = fitting_suffix(others, fixed, budget, model)
    if fixed > budget or (others and fitting == 0):
        return None
    results = []
    for length in acceptable_lengths(others, fitting):
        cut = len(others) - length  # the others before index ``cut`` are dropped
        dropped = {id(m) for m in others[:cut]}
        results.append([m for m in messages if id(m) not in dropped])
    return results
