"""JSON lines between the grader, the worker and the child that runs a submission, over pipes.

Pipes, not sockets: the worker may live in a network namespace with no way out. Two links, so
that the verdict's channel is out of the submission's reach:

- grader <-> worker: the worker never runs submission code; only it writes here.
- worker <-> child: one pair of pipes per case. The worker checks every line the child writes
  (``check_child_message``) before passing it on, and stops the case at the first that is not
  a message of this protocol. The grader checks them again: it trusts no process but itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import time
from typing import Any

from mock_api.jsonbody import BodyError, parse_json

MAX_LINE = 64 * 1024 * 1024
MAX_DEPTH = 64  # a message's JSON, checked before the parser recurses
MAX_CHILD_LINE = 32 * 1024 * 1024  # a request body (base64) of a 1M-token case; never more

# What the child may say, and how a case's run may end as the child tells it.
CHILD_OPS = frozenset({"loaded", "read", "result", "request", "done"})
CHILD_OUTCOMES = frozenset({"returned", "raised", "exit", "bad_signature"})
FUNCTIONS = frozenset({"count_tokens", "trim_history"})


# Exit codes of a case's child that are the harness's, not the student's.
EXIT_INTERNAL = 70  # the harness itself failed in the child (out of memory, say)
EXIT_CHANNEL_LOST = 75  # the child's pipe to the worker was closed or broken under it


def frame(message: dict[str, Any]) -> bytes:
    """A message as it goes into a pipe. The leading newline ends any partial line a killed
    writer left there."""
    return b"\n" + json.dumps(message, ensure_ascii=False).encode() + b"\n"


def code_frame(shown: str, number: int | None, function: str, code: str | None) -> str:
    """One frame of the student's code, as every report shows one, whichever side took it (the
    child's traceback, or the grader's reading of a stuck child's stack): 'file, line N, in f'
    and its line of code beneath."""
    head = f"{shown}, line {number}, in {function}"
    return head + (f"\n    {code.strip()}" if code and code.strip() else "")


def kill_group(pid: int | None) -> None:
    """SIGKILL to a child's process group (it leads its own); nothing for no pid."""
    if not pid:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def describe_status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.WEXITSTATUS(status)}


class ProtocolError(RuntimeError):
    """The other side sent something that is not a message of this protocol."""


class Channel:
    def __init__(
        self, read_fd: int, write_fd: int, max_line: int = MAX_LINE, drain: bool = False
    ) -> None:
        """``drain``: while a send waits for room in the pipe, read what the other side sends
        into the buffer, where ``receive`` finds it. Two sides that write at once (the grader
        launching a case while the worker relays another's request) then never both wait on a
        full pipe for ever. Only for a side that reads through ``receive`` alone: one that waits
        on ``read_fd`` itself would not see what was buffered."""
        self.read_fd, self.write_fd = read_fd, write_fd
        self.max_line = max_line
        self._buffer = bytearray()
        self._drain = drain
        self._ended = False  # drained to the end of file
        if drain:
            os.set_blocking(write_fd, False)

    def send(self, message: dict[str, Any]) -> None:
        view = memoryview(frame(message))
        while view:
            try:
                written = os.write(self.write_fd, view)
            except BlockingIOError:  # only with drain: the pipe is full
                self._wait_for_room()
                continue
            view = view[written:]

    def _wait_for_room(self) -> None:
        """Until the pipe has room, keep reading what the other side writes."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.write_fd, selectors.EVENT_WRITE)
            if not self._ended:
                selector.register(self.read_fd, selectors.EVENT_READ)
            for key, _ in selector.select():
                if key.fd == self.read_fd:
                    chunk = os.read(self.read_fd, 1 << 16)
                    self._buffer += chunk
                    self._ended = not chunk

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message; None at end of file; TimeoutError when none comes in time.

        ``timeout=0`` takes what is already there without waiting.
        """
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
            if scanned > self.max_line:
                raise ProtocolError(f"a line longer than {self.max_line} bytes")
            if self._ended:
                return None
            if deadline is not None:
                remaining = max(deadline - time.monotonic(), 0.0)
                if not wait_readable(self.read_fd, remaining):
                    raise TimeoutError
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def parse(line: bytes | bytearray) -> dict[str, Any]:
    try:
        message = parse_json(bytes(line), MAX_DEPTH)
    except BodyError as exc:
        raise ProtocolError(f"not JSON: {bytes(line[:200])!r}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ProtocolError(f"not a message: {bytes(line[:200])!r}")
    return message


def wait_readable(fd: int, timeout: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(timeout))


def check_child_message(message: dict[str, Any]) -> dict[str, Any]:
    """The message if it is one the child may send, with every field the grader reads typed.

    The child runs the submission, which can write anything to its pipe; what passes here can
    be read by the grader without a type error anywhere.
    """
    op = message.get("op")
    if op not in CHILD_OPS:
        raise ProtocolError(f"the child may not send op {op!r}")
    if op == "loaded":
        expect(message, "ok", bool)
        if not isinstance(message.get("missing", []), list) or not all(
            isinstance(m, str) for m in message.get("missing", [])
        ):
            raise ProtocolError("'missing' must be a list of names")
        check_error(message.get("error"))
    elif op == "result":
        if message.get("fn") not in FUNCTIONS:
            raise ProtocolError(f"no function {message.get('fn')!r}")
        index = message.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ProtocolError("'index' must be a whole number")
        check_error(message.get("error"))
        if "unreadable" in message:
            expect(message, "unreadable", str)
        after = message.get("argument_after", {})
        if not isinstance(after, dict):
            raise ProtocolError("'argument_after' must be an object")
    elif op == "request":
        for name in ("method", "path", "body"):
            expect(message, name, str)
        headers = message.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ProtocolError("'headers' must map names to strings")
    elif op == "read":
        for name in ("line", "offset"):
            value = message.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < -1:
                raise ProtocolError(f"read: {name!r} must be a whole number")
    else:  # done
        if message.get("outcome") not in CHILD_OUTCOMES:
            raise ProtocolError(f"no outcome {message.get('outcome')!r}")
        check_error(message.get("error"))
    return message


def expect(message: dict[str, Any], name: str, kind: type) -> None:
    if not isinstance(message.get(name), kind):
        raise ProtocolError(f"{message.get('op')}: {name!r} must be a {kind.__name__}")


def check_error(error: Any) -> None:
    """An exception as the worker describes it: names and text, nothing else."""
    if error is None:
        return
    if not isinstance(error, dict):
        raise ProtocolError("'error' must be an object")
    for name in ("type", "message"):
        if not isinstance(error.get(name), str):
            raise ProtocolError(f"error: {name!r} must be a string")
    if not isinstance(error.get("traceback", ""), str):
        raise ProtocolError("error: 'traceback' must be a string")
    bases = error.get("bases", [])
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ProtocolError("error: 'bases' must be a list of names")
    code = error.get("code")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise ProtocolError("error: 'code' must be a whole number or null")
