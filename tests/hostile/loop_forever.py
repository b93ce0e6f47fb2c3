"""Hangs in main(): a busy loop the grader must stop at the case's time limit."""

import time

from _base import count_tokens, trim_history  # noqa: F401

HANG_SECONDS = 60  # far past any test case's limit; the loop still ends by itself


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline:
        pass
