"""Answers one line, then leaves with os._exit(0): no exception, no cleanup, no word."""

import os

from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    repl(system_prompt, model, max_input_tokens, lines=1)
    os._exit(0)
