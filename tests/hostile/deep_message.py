"""Writes one line nested 100,000 deep into every descriptor it did not open itself (3 to 63),
its pipe to the worker among them, then chats as if nothing happened: valid JSON to a lenient
eye, and a recursion error to a parser that recurses."""

import contextlib
import os
import time

from _base import count_tokens as honest_count
from _base import repl, trim_history  # noqa: F401

DEPTH = 100_000


def count_tokens(messages: list, model: str = "gpt-5.4") -> int:
    """Right, and slow enough that the functions case is still running beside the chat."""
    time.sleep(0.1)
    return honest_count(messages, model)


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    line = b'\n{"op": "read", "line": 0, "offset": 0, "x": ' + b"[" * DEPTH + b"]" * DEPTH + b"}\n"
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, line)
    repl(system_prompt, model, max_input_tokens)
