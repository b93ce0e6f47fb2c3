"""Holds memory that no address-space limit counts: files with no name (memfd), each as large
as the file-size limit lets it be, as many as its descriptors allow, up to a bounded total
(GOAL bytes, a little over its memory limit). It says how much it held, then fails."""

import os

from _base import count_tokens, repl, trim_history  # noqa: F401

GOAL = None  # bytes to try to hold, set by the test
CHUNK = 64 * 1024


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    held, fds, problem = 0, [], ""
    block = b"x" * CHUNK
    while held < (GOAL or 0) and len(fds) < 100_000:
        try:
            fd = os.memfd_create("hoard")
        except BaseException as exc:
            problem = f"{type(exc).__name__}: {exc}"
            break
        fds.append(fd)
        try:
            while held < (GOAL or 0):
                held += os.write(fd, block)
        except BaseException:
            continue  # this one is full: the next
    raise RuntimeError(f"HELD {held // (1024 * 1024)} MB in {len(fds)} memfds ({problem})")
