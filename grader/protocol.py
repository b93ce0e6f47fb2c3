"""JSON lines between the grader and the worker that runs a submission, over two pipes.

Pipes, not sockets: the worker may live in a network namespace with no way out, and nothing
the submission does to its sockets can touch the channel its verdict travels on.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import time
from typing import Any

MAX_LINE = 64 * 1024 * 1024


class ProtocolError(RuntimeError):
    """The other side sent something that is not a message of this protocol."""


class Channel:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self._buffer = bytearray()

    def send(self, message: dict[str, Any]) -> None:
        # A leading newline ends any partial line a killed writer left in the pipe.
        data = b"\n" + json.dumps(message, ensure_ascii=False).encode() + b"\n"
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message; None at end of file; TimeoutError when none comes in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        scanned = 0
        while True:
            end = self._buffer.find(b"\n", scanned)
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                scanned = 0
                if line.strip():
                    return parse(line)
                continue
            scanned = len(self._buffer)
            if scanned > MAX_LINE:
                raise ProtocolError(f"a line longer than {MAX_LINE} bytes")
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not wait_readable(self.read_fd, remaining):
                    raise TimeoutError
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def parse(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {bytes(line[:200])!r}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ProtocolError(f"not a message: {bytes(line[:200])!r}")
    return message


def wait_readable(fd: int, timeout: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(timeout))
