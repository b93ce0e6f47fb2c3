"""Prints 400 MB, a megabyte at a time, before it starts chatting."""

import sys

from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    block = "spam " * 200_000
    for _ in range(400):
        sys.stdout.write(block)
    repl(system_prompt, model, max_input_tokens)
