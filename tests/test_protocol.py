"""The grader's pipe to its worker: both may write at once, each more than a pipe holds (the
grader launching a case while the worker relays another case's request); neither may then wait
for the other for ever. Bounded: every wait here ends within seconds."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from grader.sandbox.protocol import Channel

BIG = "x" * (1 << 20)  # a message many times a pipe's 64 KiB


class Pipes:
    """Two pipes, grader to worker and back; each end closed once, here or in a test."""

    def __init__(self) -> None:
        self.to_grader_r, self.to_grader_w = os.pipe()
        self.to_worker_r, self.to_worker_w = os.pipe()
        self.open = {self.to_grader_r, self.to_grader_w, self.to_worker_r, self.to_worker_w}

    def close(self, fd: int) -> None:
        if fd in self.open:
            self.open.discard(fd)
            os.close(fd)


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    made = Pipes()
    yield made
    for fd in list(made.open):
        made.close(fd)


def test_two_sides_sending_at_once_both_get_through(pipes: Pipes) -> None:
    grader = Channel(pipes.to_grader_r, pipes.to_worker_w, drain=True)
    # The worker as it is: it writes its whole message before it reads anything.
    worker = Channel(pipes.to_worker_r, pipes.to_grader_w)
    got: dict[str, object] = {}

    def work() -> None:
        worker.send({"op": "request", "body": BIG})
        got["worker"] = worker.receive(10)

    def grade() -> None:
        grader.send({"op": "case", "script": BIG})  # without drain, both would wait here
        got["grader"] = grader.receive(10)

    threads = [threading.Thread(target=side, daemon=True) for side in (work, grade)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    stuck = [t for t in threads if t.is_alive()]
    for fd in list(pipes.open):  # a side stuck writing gets a broken pipe, and ends
        pipes.close(fd)
    assert not stuck, "the two sides waited for each other"
    assert got == {
        "grader": {"op": "request", "body": BIG},
        "worker": {"op": "case", "script": BIG},
    }


def test_what_was_drained_ends_at_the_end_of_file(pipes: Pipes) -> None:
    grader = Channel(pipes.to_grader_r, pipes.to_worker_w, drain=True)
    worker = Channel(pipes.to_worker_r, pipes.to_grader_w)

    def last_words() -> None:
        worker.send({"op": "bye"})
        pipes.close(pipes.to_grader_w)  # it has no more to say
        worker.receive(10)  # ...but reads the grader's message, so that it can be sent

    thread = threading.Thread(target=last_words, daemon=True)
    thread.start()
    grader.send({"op": "case", "script": BIG})
    assert grader.receive(5) == {"op": "bye"}
    assert grader.receive(5) is None  # the end of file it met while sending
    thread.join(10)
    assert not thread.is_alive()
