"""tiktoken's encode, remembered for the life of one case's child.

A trim as the lesson writes it, ``while count(history) > budget: drop the oldest``, counts
every kept message again after each drop, and a chat resends its whole history every turn:
the same long texts are encoded again and again, and that was a large share of the time a
submission took to grade. Encoding is a pure function of the encoding, the text and the
special-token options, so a child answers a repeat from memory: the same tokens, in a new
list. An error (a disallowed special token) is never remembered: tiktoken raises it again.
Nothing else changes, and a submission that counts wrongly counts as wrongly.

Installed in each child after the fork, the memory starts empty and holds only the texts of
the child's own case.
"""

from __future__ import annotations

import contextlib
import functools
from array import array
from collections.abc import Callable, Hashable
from typing import Any

import tiktoken

A_SET = object()  # marks an option that was a set, so no tuple given as an option looks alike
MAX_TOKENS = 4_000_000  # remembered in all, 4 bytes each; past it, encoded as before


class Memo:
    def __init__(self) -> None:
        self.known: dict[Hashable, array[int]] = {}
        self.tokens = 0

    def wrap(self, method: Callable[..., list[int]]) -> Callable[..., list[int]]:
        known = self.known

        @functools.wraps(method)
        def remembered(encoding: Any, text: Any, *args: Any, **kwargs: Any) -> list[int]:
            # The common calls, encode(text) and encode(text, disallowed_special=()), are found
            # by the first lookup: tiktoken takes a microsecond or two, so must a lookup.
            if args or type(text) is not str:
                return method(encoding, text, *args, **kwargs)
            try:
                return known[(method, encoding, text, *kwargs.items())].tolist()
            except (KeyError, TypeError):  # not seen, or a set among the options
                pass
            key = call_key(method, encoding, text, kwargs)
            if key is None:
                return method(encoding, text, **kwargs)
            if key in known:
                return known[key].tolist()
            result = method(encoding, text, **kwargs)
            self.remember(key, result)
            return result

        return remembered

    def remember(self, key: Hashable, tokens: list[int]) -> None:
        if self.tokens + len(tokens) > MAX_TOKENS:
            return
        with contextlib.suppress(OverflowError, TypeError):
            self.known[key] = array("I", tokens)
            self.tokens += len(tokens)


def call_key(method: Callable[..., Any], encoding: Any, text: str, kwargs: dict[str, Any]) -> Any:
    """What fixes the call's result; None for options this does not know how to compare.

    An option is kept as given when it can be hashed ("all", a tuple of names), and a set by
    its type and names; anything else (a list, a generator) is not remembered, since tiktoken
    itself treats some of those differently (a list of allowed names is an error)."""
    options = []
    for name, value in kwargs.items():
        if name not in ("allowed_special", "disallowed_special"):
            return None
        if isinstance(value, (set, frozenset)):
            if not all(type(v) is str for v in value):
                return None
            value = (A_SET, type(value), frozenset(value))
        elif not (value == "all" or (type(value) is tuple and all(type(v) is str for v in value))):
            return None
        options.append((name, value))
    return (method, encoding, text, *options)


def install() -> None:
    """Remember ``Encoding.encode`` and ``encode_ordinary`` in this process."""
    memo = Memo()
    for name in ("encode", "encode_ordinary"):
        setattr(tiktoken.Encoding, name, memo.wrap(getattr(tiktoken.Encoding, name)))
