"""Answers one line, then calls sys.exit(3) in the middle of the conversation."""

import sys

from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    repl(system_prompt, model, max_input_tokens, lines=1)
    sys.exit(3)
