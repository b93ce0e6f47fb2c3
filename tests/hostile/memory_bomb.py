"""Allocates memory until something stops it (at most 4 GB, should nothing)."""

from _base import count_tokens, repl, trim_history  # noqa: F401

CHUNK = 64 * 1024 * 1024


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    hoard = []
    for _ in range(64):
        hoard.append(bytearray(CHUNK))
    repl(system_prompt, model, max_input_tokens)
