"""The harness in a case's child: fences it in, loads the submission, runs the case.

The child is forked from the zygote (grader/sandbox/zygote.py), which never saw a case: its
memory holds the preloaded modules and its own case, which it reads first from its pipe, and
nothing of any other case. Its requests go to the worker over that pipe; its stack goes to the
worker's stack pipe when the grader asks (SIGUSR2).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import faulthandler
import importlib.util
import inspect
import io
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.sandbox import encode_memo, guard
from grader.sandbox.protocol import (
    EXIT_CHANNEL_LOST,
    EXIT_INTERNAL,
    Channel,
    ProtocolError,
    code_frame,
)
from mock_api.core import MockRequest, MockResponse
from mock_api.intercept import intercept

REQUIRED = ("count_tokens", "trim_history", "main")
HARNESS_FILE = "grader/sandbox/child.py"
MAX_RESULT = 4 * 1024 * 1024  # a function's result larger than this is not reported whole


@dataclass
class Context:
    """What every case's child gets from the worker: the fences that work, what to hide."""

    fences: guard.Fences
    pid_namespaces: guard.PidNamespaces | None = None
    hidden: list[Path] = field(default_factory=list)
    view: guard.View | None = None
    rules: Any = None  # the seccomp filter, built once

    def fork(self) -> int:
        return self.pid_namespaces.fork() if self.pid_namespaces else os.fork()

    def enter_view(self, workdir: Path, source: Path) -> None:
        """The file-system view the probe found to work; the case stops if it fails now."""
        if self.fences.view:
            assert self.view is not None
            if not guard.enter_view(self.view, workdir, source):
                raise OSError("the file-system view could not be built for this case")
        if self.fences.unprivileged_user and not guard.become_unprivileged(
            workdir, self.fences.view
        ):
            raise OSError("could not become an unprivileged user for this case")

    def forbid_new_programs(self) -> None:
        if self.fences.seccomp and not guard.forbid(self.rules):
            raise OSError("the seccomp filter could not be loaded for this case")
        if self.fences.seccomp and not self.fences.pid_namespace:
            signals = guard.signal_filter(os.getpid())
            if signals is None or not guard.forbid(signals):
                raise OSError("the signal filter could not be loaded for this case")


def run(fds: list[int], context: Context) -> int:
    """The child's life: its case from its pipe, then the case. Returns its exit code."""
    to_child, from_child, stack = fds
    channel = ChildChannel(to_child, from_child)
    message = channel.receive()
    if message is None or message.get("op") != "case":
        return EXIT_INTERNAL
    stdin = input_file(message.get("lines", []))
    return run_child(message, channel, context, stdin, stack)


def input_file(lines: list[str]) -> int:
    """The case's lines in a file with no name, at offset 0."""
    with tempfile.TemporaryFile() as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))
        f.flush()
        fd = os.dup(f.fileno())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class ChildChannel(Channel):
    """The child's end: a pipe that fails under it ends the child, with its own exit code.

    A submission's threads may read input while another sends a request: one message at a
    time goes into the pipe, and one request at a time waits for its reply.
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        super().__init__(read_fd, write_fd)
        self.sending = threading.Lock()
        self.exchanging = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        try:
            with self.sending:
                super().send(message)
        except OSError:
            os._exit(EXIT_CHANNEL_LOST)

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            message = super().receive(timeout)
        except (OSError, ProtocolError):
            os._exit(EXIT_CHANNEL_LOST)
        if message is None:
            os._exit(EXIT_CHANNEL_LOST)
        return message


def run_child(
    message: dict[str, Any], channel: Channel, context: Context, stdin: int, stack: int
) -> int:
    """In the child: fence it in, then load the submission and run the case."""
    os.setpgid(0, 0)
    guard.die_with_parent()
    workdir = Path(message["workdir"])
    redirect_stdio(stdin, Path(message["output"]), channel)
    # On the grader's word (a time-out, a stall), the student's stack goes to the worker.
    faulthandler.register(signal.SIGUSR2, file=stack, all_threads=True, chain=False)
    close_other_fds({channel.read_fd, channel.write_fd, stack})
    context.enter_view(workdir, Path(message["staged"]))
    os.chdir(workdir)
    os.environ.update(HOME=str(workdir), TMPDIR="/tmp" if context.fences.view else str(workdir))
    tempfile.tempdir = None
    sys.path.insert(0, str(workdir))
    sys.dont_write_bytecode = True
    guard.limit_resources(
        message.get("memory_bytes"), message["output_bytes"], int(message["timeout"]) + 2
    )
    if context.fences.no_capabilities:
        guard.drop_capabilities()
    encode_memo.install()
    guard.disarm()
    guard.hide_grader_modules()
    context.forbid_new_programs()
    if message.get("audit_hook", True):  # off only in tests of the kernel's fences alone
        guard.install_audit_hook(workdir, context.hidden)

    module = load_submission(workdir / message["file"], channel)
    if module is None:
        return 0
    if message["kind"] == "functions":
        outcome = run_functions(module, message, channel)
    else:
        outcome = run_conversation(module, message, channel)
    channel.send({"op": "done", **outcome})  # first: a flush that hangs cannot undo it
    flush_stdio()
    return 0


def close_other_fds(keep: set[int]) -> None:
    """Everything the worker had open, gone: the child keeps stdio and its own two pipes."""
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, max(os.sysconf("SC_OPEN_MAX"), 1024, start + 1))


def redirect_stdio(stdin: int, output: Path, channel: Channel) -> None:
    """The case's input lines on fd 0; stdout and stderr, capped, into one file."""
    out_fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(stdin, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(stdin)
    os.close(out_fd)
    # These wrappers live as long as the process: no context manager can own them.
    sys.stdin = ReportingStdin(open(0, "rb", closefd=False), channel)  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(
        open(1, "wb", closefd=False),  # noqa: SIM115
        encoding="utf-8",
        errors="replace",
        line_buffering=True,
    )
    sys.stderr = sys.stdout


class ReportingStdin(io.TextIOWrapper):
    """sys.stdin that tells the worker each line it hands out, and how far the output had
    got: the report shows what the REPL printed for each line, and a REPL that reads is
    making progress. ``input()`` and iteration both come through here."""

    def __init__(self, buffer: Any, channel: Channel) -> None:
        super().__init__(buffer, encoding="utf-8")
        self.channel = channel
        self.lines = 0
        self.eof_told = False

    def mark(self, line: str) -> None:
        if not line and self.eof_told:
            return  # a REPL spinning at the end of input is told once, not once per spin
        self.eof_told = not line
        flush_stdio()
        try:
            offset = os.lseek(1, 0, os.SEEK_CUR)
        except OSError:
            offset = 0
        self.channel.send({"op": "read", "line": self.lines if line else -1, "offset": offset})
        if line:
            self.lines += 1

    def readline(self, size: int | None = -1) -> str:
        line = super().readline(-1 if size is None else size)
        self.mark(line)
        return line

    def __next__(self) -> str:
        try:
            line = super().__next__()
        except StopIteration:
            self.mark("")
            raise
        self.mark(line)
        return line


def flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def load_submission(path: Path, channel: Channel) -> ModuleType | None:
    """A fresh module from the file; tells the grader whether it loaded and what it lacks."""
    try:
        spec = importlib.util.spec_from_file_location("chat_repl", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["chat_repl"] = module
        spec.loader.exec_module(module)
    except BaseException as exc:
        channel.send({"op": "loaded", "ok": False, "error": describe_exception(exc)})
        return None
    missing = [name for name in REQUIRED if not defines(module, name)]
    channel.send({"op": "loaded", "ok": not missing, "missing": missing})
    return None if missing else module


def defines(module: ModuleType, name: str) -> bool:
    try:
        return callable(getattr(module, name, None))
    except Exception:
        return False


def as_student_knows(filename: str) -> str:
    """A path in the submission, relative to it: never the grader's copy or checkout."""
    root = os.getcwd()
    if filename == root or filename.startswith(root + os.sep):
        return os.path.relpath(filename, root)
    return filename


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """Type, message, and the traceback lines that are the student's, not ours."""
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if not f.filename.replace(os.sep, "/").endswith(HARNESS_FILE)]
        lines = [
            code_frame(as_student_knows(f.filename), f.lineno, f.name, f.line) + "\n"
            for f in own[-6:]
        ]
        if isinstance(exc, SyntaxError):
            if exc.filename:
                exc.filename = as_student_knows(exc.filename)
            lines = traceback.format_exception_only(type(exc), exc)
    except Exception:
        lines = []
    try:
        text = str(exc)[:2000]
    except Exception:
        text = "(the exception cannot be printed)"
    code = exc.code if isinstance(exc, SystemExit) else None
    return {
        "type": type(exc).__name__,
        "bases": [cls.__name__ for cls in type(exc).__mro__],
        "message": text,
        "traceback": "".join(lines)[-4000:],
        "code": int(code) if isinstance(code, int) else None,
    }


def jsonable(value: Any) -> dict[str, Any]:
    """A function's result as the grader can read it, whatever the submission returned."""
    try:
        text = json.dumps(value)
        if len(text) > MAX_RESULT:
            return {"unreadable": f"{type(value).__name__} of {len(text):,} bytes as JSON"}
        return {"value": json.loads(text)}
    except Exception:
        try:
            shown = repr(value)[:200]
        except Exception:
            shown = "(cannot be printed)"
        return {"unreadable": f"{type(value).__name__}: {shown}"}


def run_functions(module: ModuleType, message: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Each sample through the function, one message per call; sys.exit in a call is its
    error, not the end of the case."""
    model = message["model"]
    for index, messages in enumerate(message["count_samples"]):
        try:
            result = jsonable(module.count_tokens(messages, model=model))
        except BaseException as exc:
            result = {"error": describe_exception(exc)}
        channel.send({"op": "result", "fn": "count_tokens", "index": index, **result})
    for index, sample in enumerate(message["trim_samples"]):
        argument = copy.deepcopy(sample["messages"])
        try:
            value = module.trim_history(argument, max_input_tokens=sample["budget"], model=model)
            result = jsonable(value)
        except BaseException as exc:
            result = {"error": describe_exception(exc)}
        channel.send(
            {
                "op": "result",
                "fn": "trim_history",
                "index": index,
                "argument_after": jsonable(argument),
                **result,
            }
        )
    return {"outcome": "returned"}


def run_conversation(
    module: ModuleType, message: dict[str, Any], channel: ChildChannel
) -> dict[str, Any]:
    def forward(request: MockRequest) -> MockResponse:
        headers = {
            k: v for k, v in request.headers.items() if k in ("authorization", "content-type")
        }
        with channel.exchanging:
            channel.send(
                {
                    "op": "request",
                    "method": request.method,
                    "path": request.path,
                    "headers": headers,
                    "body": base64.b64encode(request.body).decode(),
                }
            )
            reply = channel.receive()
        if reply is None or reply.get("op") != "response":
            os._exit(EXIT_CHANNEL_LOST)  # the grader is gone or confused: nothing left to do
        return MockResponse(
            reply["status"], reply["headers"], base64.b64decode(reply["body"]), reply.get("timeout")
        )

    kwargs = {
        "system_prompt": message["system_prompt"],
        "model": message["model"],
        "max_input_tokens": message["budget"],
    }
    try:
        inspect.signature(module.main).bind(**kwargs)
    except Exception as exc:
        return {"outcome": "bad_signature", "error": {"type": "TypeError", "message": str(exc)}}
    with intercept(forward):
        try:
            module.main(**kwargs)
        except SystemExit as exc:
            return {"outcome": "exit", "error": describe_exception(exc)}
        except BaseException as exc:
            return {"outcome": "raised", "error": describe_exception(exc)}
    return {"outcome": "returned"}
