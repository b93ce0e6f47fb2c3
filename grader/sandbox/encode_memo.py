"""tiktoken's encode, remembered for the life of one case's child.

A trim as the lesson writes it, ``while count(history) > budget: drop the oldest``, counts
every kept message again after each drop, and a chat resends its whole history every turn:
the same texts are encoded again and again, and that was a large share of the time a
submission took to grade. tiktoken's ``Encoding`` answers the same text and options with the
same tokens, so a child answers a repeat from memory: the same tokens, in a new list. An
error (a disallowed special token) is never remembered: tiktoken raises it again. Only the
plain calls are remembered, ``enc.encode(text, allowed_special=..., disallowed_special=...)``
on tiktoken's own ``Encoding`` class; any other call (a subclass, keyword ``self``, options
of a kind the memory cannot compare exactly) goes to tiktoken as it came.

Installed in each child after the fork, the memory starts empty and holds only the texts of
the child's own case. It is bounded in bytes, texts included, and it forgets an encoding the
submission no longer holds. What it cannot see: a submission that edits an ``Encoding``'s
private attributes after encoding with it gets the answers from before.
"""

from __future__ import annotations

import functools
import sys
import weakref
from array import array
from collections.abc import Callable, Hashable
from typing import Any

import tiktoken

MAX_BYTES = 32 * 1024 * 1024  # ever remembered; past it, tiktoken answers every new call
ENTRY_BYTES = 200  # what an entry costs besides its text and tokens (key, slot, array header)
OPTIONS = frozenset({"allowed_special", "disallowed_special"})
SETS = (set, frozenset)  # exactly: a subclass may compare its own way, and is not remembered

Known = dict[Hashable, array]  # (the method, the text, its options) -> the tokens


class Memo:
    def __init__(self) -> None:
        # Per encoding object, by id: a submission may build and drop encodings, and a dropped
        # one's entries go with it (a finalizer removes them before its id can be reused).
        # Plain calls (options as given, all hashable) and calls with a set among the options
        # are kept apart, so no option given as a tuple can look like a set.
        self.tables: dict[int, tuple[Known, Known]] = {}
        self.bytes = 0
        self.full = False

    def tables_of(self, encoding: tiktoken.Encoding) -> tuple[Known, Known]:
        tables = self.tables.get(id(encoding))
        if tables is None:
            tables = self.tables[id(encoding)] = ({}, {})
            weakref.finalize(encoding, self.tables.pop, id(encoding), None)
        return tables

    def wrap(self, method: Callable[..., list[int]]) -> Callable[..., list[int]]:
        tables = self.tables

        @functools.wraps(method)
        def remembered(*args: Any, **kwargs: Any) -> list[int]:
            # The common calls, encode(text) and encode(text, disallowed_special=()), are found
            # by the first lookup: tiktoken takes a microsecond or two, so must a lookup.
            if len(args) != 2 or type(args[0]) is not tiktoken.Encoding or type(args[1]) is not str:
                return method(*args, **kwargs)
            encoding, text = args
            key = (method, text, *kwargs.items())
            try:
                return tables[id(encoding)][0][key].tolist()
            except (KeyError, TypeError):  # not seen, or a set among the options
                pass
            if not OPTIONS.issuperset(kwargs):
                return method(*args, **kwargs)
            plain, with_sets = self.tables_of(encoding)
            table = plain
            if any(type(v) in SETS for v in kwargs.values()):
                sets_key = set_options_key(method, text, kwargs)
                if sets_key is None:
                    return method(*args, **kwargs)
                key, table = sets_key, with_sets
                if key in with_sets:
                    return with_sets[key].tolist()
            elif not all(exact_option(v) for v in kwargs.values()):
                return method(*args, **kwargs)
            result = method(*args, **kwargs)
            self.remember(table, key, text, result)
            return result

        return remembered

    def remember(self, table: Known, key: Hashable, text: str, tokens: list[int]) -> None:
        size = sys.getsizeof(text) + 4 * len(tokens) + ENTRY_BYTES
        if self.full or self.bytes + size > MAX_BYTES:
            return
        try:
            table[key] = array("I", tokens)
        except MemoryError:  # the submission's own limit comes first: remember no more
            self.full = True
        except (OverflowError, TypeError):  # a token that is not a 32-bit number: not kept
            pass
        else:
            self.bytes += size

    def entries(self) -> int:
        return sum(len(plain) + len(with_sets) for plain, with_sets in self.tables.values())


def exact_option(value: Any) -> bool:
    """An option tiktoken treats as the same whenever it is equal: "all", or a tuple of names
    (a list, say, would not do: tiktoken refuses a list of allowed names)."""
    return (type(value) is str and value == "all") or (
        type(value) is tuple and all(type(v) is str for v in value)
    )


def set_options_key(method: Callable[..., Any], text: str, kwargs: dict[str, Any]) -> Any:
    """A key for options among which there is a set: each set by its type and names, the rest
    as ``exact_option`` allows; None when an option is neither."""
    options = []
    for name, value in kwargs.items():
        if type(value) in SETS:
            if not all(type(v) is str for v in value):
                return None
            options.append((name, type(value), frozenset(value)))
        elif exact_option(value):
            options.append((name, value))
        else:
            return None
    return (method, text, *options)


def install() -> None:
    """Remember ``Encoding.encode`` and ``encode_ordinary`` in this process."""
    memo = Memo()
    for name in ("encode", "encode_ordinary"):
        setattr(tiktoken.Encoding, name, memo.wrap(getattr(tiktoken.Encoding, name)))
