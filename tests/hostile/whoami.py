"""Says which user it runs as, then chats honestly."""

import os

from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    print(f"UID {os.getuid()}")
    repl(system_prompt, model, max_input_tokens)
