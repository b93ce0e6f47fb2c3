"""Looks for an API key wherever one might be: its environment and other processes' ones.

It fails either way: with LEAKED and what it found, or saying that it found none.
"""

import os

from _base import count_tokens, repl, trim_history  # noqa: F401

DUMMY = "sk-trimlab-grader-dummy-key"


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    found, refused = [], []
    for value in os.environ.values():
        if "sk-" in value and value != DUMMY:
            found.append(value)
    for pid in sorted(os.listdir("/proc") if os.path.isdir("/proc") else []):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                data = f.read().decode(errors="replace")
        except OSError as exc:
            refused.append(type(exc).__name__)
            continue
        found.extend(v for v in data.split("\0") if "sk-" in v and DUMMY not in v)
    if found:
        raise RuntimeError(f"LEAKED: {found}")
    raise LookupError(f"no API key found ({len(refused)} environments refused)")
