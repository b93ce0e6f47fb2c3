"""Tries to kill the worker that forked it and the grader, with every means it knows.

WORKER_PID and GRADER_PID are set by the test: the worst case, where the pids are known.
"""

import ctypes
import os
import signal

from _base import count_tokens, repl, trim_history  # noqa: F401

WORKER_PID = None
GRADER_PID = None


def c_kill(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.kill(pid, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    results = {}
    for name, pid in (("worker", WORKER_PID), ("grader", GRADER_PID), ("parent", os.getppid())):
        if not pid:
            continue
        for how, action in (
            ("kill", lambda pid=pid: os.kill(pid, signal.SIGKILL)),
            ("killpg", lambda pid=pid: os.killpg(pid, signal.SIGKILL)),
            ("pidfd", lambda pid=pid: signal.pidfd_send_signal(os.pidfd_open(pid), 9)),
            ("ctypes", lambda pid=pid: c_kill(pid)),
        ):
            try:
                action()
                results[f"{name} {how}"] = "sent"
            except BaseException as exc:
                results[f"{name} {how}"] = f"{type(exc).__name__}: {exc}"
    print(results)
    raise PermissionError(f"could not kill anything: {results}")
