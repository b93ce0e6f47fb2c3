"""Tries to start processes: fork, subprocess, os.system, multiprocessing, and the C call
behind subprocess. A child that does start leaves at once (and writes MARKER, if set)."""

import os
import subprocess

from _base import count_tokens, repl, trim_history  # noqa: F401

MARKER = None  # a path the test checks for afterwards


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    results = {}
    command = ["/bin/sh", "-c", f"echo spawned > {MARKER}"] if MARKER else ["/bin/true"]

    def fork() -> None:
        if os.fork() == 0:
            os._exit(0)

    def fork_exec() -> None:
        import _posixsubprocess

        _posixsubprocess.fork_exec(
            [os.fsencode(command[0])], [os.fsencode(command[0])], True, (), None, None,
            -1, -1, -1, -1, -1, -1, -1, -1, False, False, -1, None, None, None, -1, None, False,
        )  # fmt: skip

    def pool() -> None:
        import multiprocessing

        process = multiprocessing.Process(target=print)
        process.start()
        process.join(1)

    for name, action in (
        ("fork", fork),
        ("subprocess", lambda: subprocess.run(command, timeout=2)),
        ("system", lambda: os.system(" ".join(command))),
        ("fork_exec", fork_exec),
        ("multiprocessing", pool),
    ):
        try:
            action()
            results[name] = "STARTED"
        except BaseException as exc:
            results[name] = f"{type(exc).__name__}: {exc}"
    print(results)
    raise PermissionError(f"could not start a process: {results}")
