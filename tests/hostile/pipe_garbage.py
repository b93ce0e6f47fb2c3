"""Writes garbage into every file descriptor it did not open itself (3 to 63), the
grader's pipe among them, then chats as if nothing happened."""

import contextlib
import os

from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, b"\x00garbage, not JSON\n")
    repl(system_prompt, model, max_input_tokens)
