"""The zygote: a copy of the worker made before any case arrived, that forks every child.

A child is a fork, so it starts with its parent's memory. Forked from the worker, which relays
every case's messages, a child could read another case's lines (a hidden one among them) out
of its own memory. The zygote never receives anything but "fork case N" and three pipe ends
(over a Unix socket, SCM_RIGHTS), so a child's memory holds the preloaded modules and, once it
reads it from its pipe, its own case: nothing else. It reaps the children and says how each
ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from grader.sandbox import child, guard
from grader.sandbox.protocol import EXIT_INTERNAL, describe_status

POLL_SECONDS = 0.05
MAX_PACKET = 4096


def start(context: child.Context, drop: Sequence[int]) -> socket.socket:
    """Fork the zygote; the worker's end of the socket to it. ``drop``: descriptors of the
    worker's that the zygote (and so every child) must not hold."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def be_the_zygote() -> int:
        ours.close()
        for fd in drop:
            os.close(fd)
        guard.die_with_parent()
        return serve(theirs, context)

    spawn(os.fork, be_the_zygote)
    theirs.close()
    return ours


def spawn(fork: Callable[[], int], body: Callable[[], int]) -> int:
    """``fork()``; the new process runs ``body`` and nothing after it (its result is the exit
    code, and an exception in it is the harness's failure), never the caller's code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = fork()
    if pid == 0:
        code = EXIT_INTERNAL
        try:
            code = body()
        finally:
            os._exit(code)
    return pid


def ask(forker: socket.socket, case: int, fds: list[int]) -> None:
    """Ask for a child for ``case``, holding these pipe ends."""
    socket.send_fds(forker, [json.dumps({"op": "fork", "case": case}).encode()], fds)


def news(forker: socket.socket) -> Iterator[dict[str, Any] | None]:
    """What the zygote has said since last asked; None when it has gone."""
    while True:
        try:
            packet = forker.recv(MAX_PACKET, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            packet = b""
        if not packet:
            yield None
            return
        yield json.loads(packet)


def serve(control: socket.socket, context: child.Context) -> int:
    """Fork on request, reap, report; until the worker goes."""
    alive: set[int] = set()
    with selectors.DefaultSelector() as selector:
        selector.register(control, selectors.EVENT_READ)
        while True:
            reap(control, alive)
            if not selector.select(POLL_SECONDS if alive else None):
                continue
            try:
                packet, fds, _, _ = socket.recv_fds(control, MAX_PACKET, 3)
            except OSError:
                return 0
            if not packet:
                return 0
            request = json.loads(packet)
            if len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                continue
            pid = fork(context, fds, control, selector)
            alive.add(pid)
            control.send(json.dumps({"op": "forked", "case": request["case"], "pid": pid}).encode())


def fork(
    context: child.Context,
    fds: list[int],
    control: socket.socket,
    selector: selectors.BaseSelector,
) -> int:
    """A case's child, holding the three pipe ends; the zygote keeps none of them."""

    def be_the_child() -> int:
        selector.close()
        control.close()
        return child.run(fds, context)

    pid = spawn(context.fork, be_the_child)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first
    for fd in fds:
        os.close(fd)
    return pid


def reap(control: socket.socket, alive: set[int]) -> None:
    while alive:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            alive.clear()
            return
        if pid == 0:
            return
        alive.discard(pid)
        message = {"op": "exited", "pid": pid, "status": describe_status(status)}
        control.send(json.dumps(message).encode())
