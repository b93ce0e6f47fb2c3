"""`grade --watch`: a save that changes the submission is graded again within seconds, a save that
changes nothing is not, and Ctrl-C ends it cleanly. Every wait here is bounded."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.watch import fingerprint, submission_folder

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    folder = tmp_path / "alice"
    shutil.copytree(REPO / "solution", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_the_fingerprint_follows_content_not_saves(submission: Path) -> None:
    program = submission / "chat_repl.py"
    first = fingerprint(submission)
    program.write_bytes(program.read_bytes())  # saved, unchanged
    os.utime(program, (time.time() + 5, time.time() + 5))
    assert fingerprint(submission) == first
    (submission / "__pycache__").mkdir()
    (submission / "__pycache__" / "chat_repl.cpython-311.pyc").write_bytes(b"\0" * 64)
    (submission / ".git").mkdir()
    (submission / ".git" / "index").write_bytes(b"x")
    assert fingerprint(submission) == first  # what the sandbox does not copy does not count
    report = submission / "report.html"
    report.write_text("<html></html>")
    assert fingerprint(submission, [report]) == first  # the grader's own output
    assert fingerprint(submission) != first  # ...which is a file like any other otherwise
    report.unlink()
    program.write_text(program.read_text() + "\n# a comment\n")
    assert fingerprint(submission) != first
    assert submission_folder(program) == submission_folder(submission) == submission.resolve()


class Lines:
    """A stream's lines as they come, read by a thread, so that every wait has a deadline."""

    def __init__(self, stream: object) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line)

    def wait_for(self, fragment: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {fragment!r} in {seconds} s; got {self.seen}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if fragment in line:
                return line

    def drain(self) -> list[str]:
        found = []
        while not self.lines.empty():
            found.append(self.lines.get_nowait())
        self.seen.extend(found)
        return found


def test_watch_grades_again_after_a_change_and_stops_on_ctrl_c(submission: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from grader.cli import grade; grade()", str(submission),
         "--watch", "--case", "short_chat"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        out, err = Lines(process.stdout), Lines(process.stderr)
        out.wait_for("score 1 / 1: all checks passed", 60)  # the summary, at the bottom
        err.wait_for("watching", 10)

        program = submission / "chat_repl.py"
        program.write_bytes(program.read_bytes())  # a save that changes nothing
        err.wait_for("no content changed: not graded again", 15)
        assert not any("score" in line for line in out.drain())

        # A real change: main() now sends nothing, so the fresh report fails.
        source = program.read_text()
        program.write_text(
            source.replace("def main(", "def main_(", 1) + "\ndef main(*a, **k):\n    pass\n"
        )
        out.wait_for("did not pass", 30)  # how soon: benchmarks/loop_bench.py
        err.wait_for("watching", 10)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) in (0, 130)
        err.drain()
        assert not any("Traceback" in line for line in err.seen + out.seen)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_watch_takes_one_submission(tmp_path: Path) -> None:
    for name in ("a", "b"):
        shutil.copytree(REPO / "solution", tmp_path / name)
    done = subprocess.run(
        [sys.executable, "-c", "from grader.cli import grade; grade()", str(tmp_path), "--watch"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--watch takes exactly one submission, not 2" in done.stderr
