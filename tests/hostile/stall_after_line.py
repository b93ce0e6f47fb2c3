"""Answers its first line, then spins: the grader must see it stuck within the case's stall
time, long before its time limit, and show where it spun."""

import time

from _base import count_tokens, repl, trim_history  # noqa: F401

SPIN_SECONDS = 30  # far past the stall time; the loop still ends by itself


def spin() -> None:
    deadline = time.monotonic() + SPIN_SECONDS
    while time.monotonic() < deadline:
        pass


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    repl(system_prompt, model, max_input_tokens, lines=1)
    spin()
