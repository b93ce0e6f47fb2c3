"""One install, many users: another user runs `grade` and the reference REPL with no write
access to the install, and the REPL's --mock uses no port that two users could both want."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import OtherUser

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Runs the REPL's command line with an audit hook that reports every socket it makes.
NO_SOCKETS = textwrap.dedent(
    """
    import runpy, sys

    def report(event, args):
        if event.startswith("socket."):
            print("SOCKET", event, args, file=sys.stderr, flush=True)

    sys.addaudithook(report)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    """
)


def run_reporting_sockets(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_SOCKETS, str(script), *args],
        input="hello\nand again\n",
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=60,
    )


def test_repl_mock_uses_no_socket_so_it_never_collides(tmp_path: Path) -> None:
    """--mock answers in-process (respx): no port to take, so every user can run it at once."""
    listener = tmp_path / "listener.py"  # the hook's control: a script that does take a port
    listener.write_text("import socket\nsocket.create_server(('127.0.0.1', 0)).close()\n")
    assert "SOCKET socket.bind" in run_reporting_sockets(listener).stderr

    result = run_reporting_sockets(REPO / "solution" / "chat_repl.py", "--mock")
    assert result.returncode == 0, result.stderr
    assert "Reply 1." in result.stdout and "Reply 2." in result.stdout  # both lines answered
    assert "SOCKET" not in result.stderr


def test_another_user_runs_the_reference_repl_with_nothing_writable(
    other_user: OtherUser,
) -> None:
    locked = other_user.scratch / "locked"
    locked.mkdir()
    result = other_user.run(
        [sys.executable, str(REPO / "solution" / "chat_repl.py"), "--mock"],
        {"HOME": "/nonexistent", "TMPDIR": str(locked)},
        locked,
        input="hello\n/tokens\n",
    )
    assert result.returncode == 0, result.stderr
    assert "input tokens" in result.stdout
    assert result.stderr == ""
    assert list(locked.iterdir()) == []


def test_another_user_grades_the_solution_and_their_own_exercise_copy(
    other_user: OtherUser,
) -> None:
    home = other_user.make_home()
    exercise = home / "exercise"
    shutil.copytree(REPO / "exercise", exercise)
    subprocess.run(["chown", "-R", f"{other_user.uid}:{other_user.gid}", str(exercise)], check=True)
    env = {"HOME": str(home), "TMPDIR": str(home)}

    solution = other_user.run([str(BIN / "grade"), "solution/"], env, REPO)
    assert solution.returncode == 0, solution.stdout + solution.stderr
    assert "score 13 / 13" in solution.stdout
    student = other_user.run([str(BIN / "grade"), str(exercise)], env, home)
    assert student.returncode == 1, student.stdout + student.stderr  # the stub fails, cleanly
    for result in (solution, student):
        assert "Traceback" not in result.stdout + result.stderr
    own_cache = home / ".cache" / "trimlab" / "tiktoken"
    assert sorted(p.name for p in home.iterdir()) == [".cache", "exercise"]  # temp files gone
    assert len(list(own_cache.iterdir())) == 2


def test_another_user_serves_the_mock_with_nothing_writable(other_user: OtherUser) -> None:
    """No cache can be written: the mock still counts (in memory), and prints no
    TIKTOKEN_CACHE_DIR to export, since there is none."""
    locked = other_user.scratch / "locked"
    locked.mkdir()
    process = subprocess.Popen(
        [str(BIN / "mock-openai"), "serve", "--port", "0"],
        env={"PATH": os.defpath, "HOME": "/nonexistent", "TMPDIR": str(locked)},
        cwd=locked,
        user=other_user.uid,
        group=other_user.gid,
        extra_groups=[],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        printed = b""
        deadline = time.monotonic() + 60
        while b"OPENAI_API_KEY" not in printed:  # the export lines come last
            assert time.monotonic() < deadline and process.poll() is None, printed
            if select.select([process.stdout], [], [], 1)[0]:
                printed += os.read(process.stdout.fileno(), 4096)
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = (printed + rest).decode()
    assert "mock-openai listening on http://127.0.0.1:" in output
    assert "TIKTOKEN_CACHE_DIR" not in output
    assert b"Traceback" not in errors
    assert list(locked.iterdir()) == []
