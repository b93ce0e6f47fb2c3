"""Closes every file descriptor past stdio, the grader's pipes among them, then chats."""

import os

from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    os.closerange(3, 64)
    repl(system_prompt, model, max_input_tokens)
