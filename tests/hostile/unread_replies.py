"""Sends a burst of well-formed requests straight into its pipe, then reads no reply: the
replies fill the pipe back to it, then the grader's pipe to the worker. It sleeps, using no CPU
time, for longer than its case's time limit; its functions are right but slow, so the
functions case is still running beside it."""

import base64
import contextlib
import json
import os
import time

from _base import count_tokens as honest_count
from _base import repl, trim_history  # noqa: F401

REQUESTS = 190  # under the flood limit (200)
SLEEP = 6


def count_tokens(messages: list, model: str = "gpt-5.4") -> int:
    time.sleep(0.1)
    return honest_count(messages, model)


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    request = {
        "op": "request",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(body.encode()).decode(),
    }
    data = b"".join(b"\n" + json.dumps(request).encode() + b"\n" for _ in range(REQUESTS))
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.set_blocking(fd, False)
            os.write(fd, data)
    time.sleep(SLEEP)  # reads nothing; the case's time limit should end it
