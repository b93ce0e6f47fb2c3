"""Hostile and broken submissions: each gets a failing result with a clear reason, in time,
and the grader goes on to grade the next one as if nothing had happened.

One sandbox (one worker) serves the whole module, as it serves a class in ``grade``: a
submission that could hurt the worker, or the grader's process (this one), shows it here.
The submissions are in tests/hostile/; the cases in tests/hostile/cases have 3 s limits.
Network tests listen on 127.0.0.1 only and address nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SandboxPool

from grader import checks
from grader.cases import Case, load_cases
from grader.cases.script import Script
from grader.grading import SubmissionReport, grade_submission, make_scripts
from grader.sandbox import guard
from grader.sandbox.protocol import Channel, ProtocolError, check_child_message
from grader.sandbox.runner import DUMMY_KEY, Limits, Sandbox, package_root, scrubbed_environment

HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(memory_mb=256, output_kb=64)
HONEST = """from _base import count_tokens, repl, trim_history  # noqa: F401


def main(system_prompt="", model="gpt-5.4", max_input_tokens=8000):
    repl(system_prompt, model, max_input_tokens)
"""


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases(HOSTILE / "cases")


@pytest.fixture(scope="module")
def scripts(cases: list[Case]) -> list[Script]:
    return make_scripts(cases)


@pytest.fixture(scope="module")
def sandbox(sandboxes: SandboxPool) -> Sandbox:
    """The test process's warm sandbox with these limits (see conftest's pool)."""
    return sandboxes.get(LIMITS)


def submission(tmp_path: Path, name: str, **values: Any) -> Path:
    """tests/hostile/NAME.py as chat_repl.py, beside _base.py; CAPITALS = None filled in."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    shutil.copy(HOSTILE / "_base.py", folder)
    text = HONEST if name == "honest" else (HOSTILE / f"{name}.py").read_text()
    for key, value in values.items():
        text, count = re.subn(rf"^{key} = None\b.*$", f"{key} = {value!r}", text, flags=re.M)
        assert count == 1, f"{name}.py has no {key} = None"
    (folder / "chat_repl.py").write_text(text)
    return folder


class Grader:
    """The module's sandbox, cases and scripts, and an honest submission to check it with."""

    def __init__(
        self, sandbox: Sandbox, cases: list[Case], scripts: list[Script], honest: Path
    ) -> None:
        self.sandbox, self.cases, self.scripts, self.honest = sandbox, cases, scripts, honest

    def grade(self, path: Path) -> SubmissionReport:
        return grade_submission(path, self.cases, self.scripts, sandbox=self.sandbox)

    def worker(self) -> int:
        """The worker's pid, once it is surely up."""
        self.sandbox.run(self.scripts[0], self.honest / "chat_repl.py")
        assert self.sandbox.process is not None
        return self.sandbox.process.pid


@pytest.fixture
def grader(sandbox: Sandbox, cases: list[Case], scripts: list[Script], tmp_path: Path) -> Grader:
    return Grader(sandbox, cases, scripts, submission(tmp_path, "honest"))


def failure(report: SubmissionReport, case: str, check: str) -> str:
    """The message of a check that failed (and it must have)."""
    for result in report.results:
        if (result.case, result.id) == (case, check):
            assert result.status == "failed", f"{case}:{check} {result.status}: {result.message}"
            return result.message
    raise AssertionError(f"no check {case}:{check}")


def assert_functions_pass(report: SubmissionReport) -> None:
    """Its misdeed is in main(): the functions case, run in the same worker, is unharmed."""
    assert [r.id for r in report.results if r.case == "functions" and not r.passed] == []


def assert_still_grades(grader: Grader, worker: int | None = None) -> None:
    """The next submission is graded right, by the same worker when one is given."""
    report = grader.grade(grader.honest)
    assert report.passed, [(r.case, r.id, r.message) for r in report.results if not r.passed]
    if worker is not None:
        assert grader.sandbox.process is not None and grader.sandbox.process.pid == worker


def test_endless_loop_is_stopped_at_the_time_limit(grader: Grader, tmp_path: Path) -> None:
    started = time.monotonic()
    report = grader.grade(submission(tmp_path, "loop_forever"))
    assert time.monotonic() - started < 10  # 3 s for the chat case, the rest is quick
    assert "did not finish within 3 s" in failure(report, "chat", "repl_exits")
    assert_functions_pass(report)
    assert_still_grades(grader)


def test_sys_exit_in_the_middle(grader: Grader, tmp_path: Path) -> None:
    report = grader.grade(submission(tmp_path, "sys_exit"))
    assert "main() called sys.exit(3) instead of returning" in failure(report, "chat", "repl_exits")
    # Told once, in repl_exits: whether it refuses a line too long could not be seen.
    (skipped,) = [r for r in report.results if r.case == "chat" and r.id == "oversize_handled"]
    assert skipped.status == "skipped" and skipped.cause == "repl_exits"
    assert_functions_pass(report)


def test_os_exit_in_the_middle(grader: Grader, tmp_path: Path) -> None:
    worker = grader.worker()
    report = grader.grade(submission(tmp_path, "os_exit"))
    message = failure(report, "chat", "repl_exits")
    assert "exited with code 0 before main() returned (os._exit?)" in message
    assert_functions_pass(report)
    assert_still_grades(grader, worker)


def test_memory_bomb_meets_the_memory_limit(grader: Grader, tmp_path: Path) -> None:
    report = grader.grade(submission(tmp_path, "memory_bomb"))
    message = failure(report, "chat", "repl_exits")
    assert "MemoryError" in message and "more than its 256 MB of memory" in message
    assert_functions_pass(report)


def test_output_is_capped(grader: Grader, tmp_path: Path) -> None:
    report = grader.grade(submission(tmp_path, "big_output"))
    assert "printed more than its 64 KB of output" in failure(report, "chat", "repl_exits")
    assert 60_000 < len(report.outputs["chat"]) <= 64 * 1024


def test_flooding_the_mock_is_stopped(grader: Grader, tmp_path: Path) -> None:
    report = grader.grade(submission(tmp_path, "flood"))
    assert "sent more than 200 requests" in failure(report, "chat", "repl_exits")


@pytest.fixture
def listener() -> Iterator[tuple[int, socket.socket, socket.socket]]:
    """TCP and UDP on one loopback port, for connections that must never arrive."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    with tcp, udp:
        yield port, tcp, udp


def assert_nothing_arrived(tcp: socket.socket, udp: socket.socket) -> None:
    tcp.setblocking(False)
    udp.setblocking(False)
    with pytest.raises(BlockingIOError):
        tcp.accept()
    with pytest.raises(BlockingIOError):
        udp.recv(16)


def test_network_connections_never_arrive(
    grader: Grader, tmp_path: Path, listener: tuple[int, socket.socket, socket.socket]
) -> None:
    port, tcp, udp = listener
    report = grader.grade(submission(tmp_path, "network", PORT=port))
    message = failure(report, "chat", "repl_exits")
    assert "every connection failed" in message and "CONNECTED" not in message
    assert "network access is disabled while grading" in message
    assert_nothing_arrived(tcp, udp)
    assert_functions_pass(report)


def test_no_api_key_to_be_found(grader: Grader, tmp_path: Path) -> None:
    report = grader.grade(submission(tmp_path, "env_keys"))
    assert "no API key found" in failure(report, "chat", "repl_exits")


def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-not-for-students")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    env = scrubbed_environment(tmp_path, tmp_path)
    assert env["OPENAI_API_KEY"] == DUMMY_KEY
    assert "OPENAI_BASE_URL" not in env and "sk-live-not-for-students" not in str(env)


def test_monkeypatching_the_grader_forges_nothing(grader: Grader, tmp_path: Path) -> None:
    evaluate, registry = checks.evaluate, dict(checks.CHECKS)
    report = grader.grade(submission(tmp_path, "monkeypatch"))
    # Its own wrong count is judged; the harness it tried to patch reported the truth.
    assert "count_tokens was wrong on" in failure(report, "functions", "count_tokens")
    assert report.score < report.max_score
    assert checks.evaluate is evaluate and registry == checks.CHECKS
    printed = report.outputs["chat"]
    assert "IMPORTED" not in printed and "REACHED" not in printed
    assert "importing the grader's own grader.checks is disabled" in printed
    assert "gc.get_objects is disabled" in printed


def test_copying_the_reference_is_refused(grader: Grader, tmp_path: Path) -> None:
    reference = Path(package_root()) / "solution" / "chat_repl.py"
    report = grader.grade(submission(tmp_path, "copy_reference", REFERENCE=str(reference)))
    message = failure(report, "functions", "loads")
    assert "reading the grader's own files is disabled" in message
    assert "importing the grader's own solution" in report.outputs["functions"]
    assert report.score == 0


def test_killing_the_worker_or_the_grader(grader: Grader, tmp_path: Path) -> None:
    worker = grader.worker()
    path = submission(tmp_path, "kill_parent", WORKER_PID=worker, GRADER_PID=os.getpid())
    report = grader.grade(path)
    message = failure(report, "chat", "repl_exits")
    assert "could not kill anything" in message and "'sent'" not in message
    assert "signalling other processes is disabled" in message
    assert grader.sandbox.process is not None and grader.sandbox.process.poll() is None
    assert_still_grades(grader, worker)


def test_starting_processes(grader: Grader, tmp_path: Path) -> None:
    marker = tmp_path / "spawned"
    report = grader.grade(submission(tmp_path, "spawn", MARKER=str(marker)))
    message = failure(report, "chat", "repl_exits")
    assert "STARTED" not in message
    assert "starting processes is disabled while grading (os.fork)" in message
    assert not marker.exists()


def test_garbage_in_the_pipe(grader: Grader, tmp_path: Path) -> None:
    worker = grader.worker()
    report = grader.grade(submission(tmp_path, "pipe_garbage"))
    message = failure(report, "chat", "repl_exits")
    assert "not a grading message into its pipe to the grader" in message
    assert_functions_pass(report)
    assert_still_grades(grader, worker)


def test_forged_messages_in_the_pipe(grader: Grader, tmp_path: Path) -> None:
    """A forged 'exited' must not end the case early, nor be read as the next case's end."""
    worker = grader.worker()
    report = grader.grade(submission(tmp_path, "pipe_forgery"))
    assert "may not send op 'exited'" in failure(report, "chat", "repl_exits")
    assert_still_grades(grader, worker)


def test_closing_the_pipes(grader: Grader, tmp_path: Path) -> None:
    worker = grader.worker()
    report = grader.grade(submission(tmp_path, "close_pipes"))
    assert "closed or broke its pipe to the grader" in failure(report, "chat", "repl_exits")
    assert_still_grades(grader, worker)


def test_writing_outside_the_working_copy(grader: Grader, tmp_path: Path) -> None:
    original = tmp_path / "write_outside"  # where the submission is, not where it runs
    targets = [tmp_path / "outside.txt", original / "planted.txt", grader.sandbox.root / "x"]
    path = submission(tmp_path, "write_outside", TARGETS=[str(t) for t in targets])
    report = grader.grade(path)
    message = failure(report, "chat", "repl_exits")
    assert "WRITTEN" not in message
    assert "writing outside its working directory is disabled" in message
    assert not any(t.exists() for t in targets)
    assert sorted(p.name for p in path.iterdir()) == ["_base.py", "chat_repl.py"]


def test_kernel_fences_hold_without_the_audit_hook(
    cases: list[Case],
    scripts: list[Script],
    tmp_path: Path,
    listener: tuple[int, socket.socket, socket.socket],
    sandboxes: SandboxPool,
) -> None:
    """Where the machine allows them, the namespaces alone stop what the hook would."""
    bare = sandboxes.get(LIMITS, audit_hook=False)
    bare.run(scripts[0], submission(tmp_path, "honest") / "chat_repl.py")
    needed = ("network namespace", "PID namespace", "own file-system view", "seccomp")
    if not all(fence in bare.fence for fence in needed):
        pytest.skip(f"only {bare.fence} here")
    assert bare.process is not None
    worker, port = bare.process.pid, listener[0]
    outside = tmp_path / "outside.txt"
    for name, values, kernel_says in (
        ("network", {"PORT": port}, "Address family not supported"),  # seccomp
        ("kill_parent", {"WORKER_PID": worker, "GRADER_PID": os.getpid()}, "No such process"),
        ("write_outside", {"TARGETS": [str(outside)]}, "No such file or directory"),
    ):
        report = grade_submission(
            submission(tmp_path, name, **values), cases, scripts, sandbox=bare
        )
        message = failure(report, "chat", "repl_exits")
        assert "CONNECTED" not in message and "WRITTEN" not in message
        assert "'sent'" not in message
        assert kernel_says in message
    assert bare.process is not None and bare.process.pid == worker
    assert not outside.exists()
    assert_nothing_arrived(listener[1], listener[2])


def test_the_hook_keeps_its_own_copy_of_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A submission that empties the guard's tables after the hook is made changes nothing."""
    hook = guard.make_hook("/work/copy", ["/srv/grader"])
    monkeypatch.setattr(guard, "NETWORK_EVENTS", frozenset())
    monkeypatch.setattr(guard, "WRITE_FLAGS", 0)
    allowed = [
        ("open", ("/work/copy/notes.txt", "w", os.O_WRONLY)),
        ("open", ("/etc/hostname", "r", 0)),
        ("open", ("/dev/null", "w", os.O_WRONLY)),
        ("os.kill", (os.getpid(), 9)),
        ("shutil.copyfile", ("/etc/hostname", "/work/copy/hostname")),
        ("import", ("json", None, [], [], [])),
    ]
    refused = [
        ("open", ("/work/copy/../elsewhere.txt", "w", os.O_WRONLY)),
        ("open", ("/tmp/x", None, os.O_CREAT | os.O_WRONLY)),
        ("open", ("/srv/grader/solution/chat_repl.py", "r", 0)),
        ("open", (f"/proc/{os.getpid() + 1}/environ", "r", 0)),
        ("open", ("/tmp", None, os.O_RDONLY)),  # a directory fd would let dir_fd= write
        ("socket.connect", (None, ("127.0.0.1", 9))),
        ("os.kill", (os.getpid() + 1, 9)),
        ("os.fork", ()),
        ("ctypes.dlopen", ("libc.so.6",)),
        ("gc.get_referrers", ()),
        ("os.rename", ("/work/copy/a", "/tmp/a")),
        ("os.symlink", ("/etc/passwd", "/work/copy/link", None)),
        ("import", ("_posixsubprocess", None, [], [], [])),
    ]
    for event, args in allowed:
        hook(event, args)
    for event, args in refused:
        with pytest.raises((guard.Blocked, guard.BlockedImport)):
            hook(event, args)
    with pytest.raises(guard.BlockedImport):
        hook("import", ("mock_api.tokens", None, [], [], []))


def test_child_messages_are_checked() -> None:
    good = {"op": "result", "fn": "count_tokens", "index": 0, "value": 7}
    assert check_child_message(good) is good
    for bad in (
        {"op": "exited", "code": 0},
        {"op": "ready"},
        {"op": "result", "fn": "eval", "index": 0},
        {"op": "result", "fn": "count_tokens", "index": "0"},
        {"op": "result", "fn": "count_tokens", "index": 0, "error": {"type": 1, "message": ""}},
        {"op": "loaded", "ok": "yes"},
        {"op": "request", "method": "POST", "path": "/", "body": 5},
        {"op": "done", "outcome": "passed"},
        {"op": "done", "outcome": "exit", "error": {"type": "E", "message": "", "code": "0"}},
    ):
        with pytest.raises(ProtocolError):
            check_child_message(bad)


def test_receive_without_waiting() -> None:
    read_fd, write_fd = os.pipe()
    channel = Channel(read_fd, write_fd)
    try:
        with pytest.raises(TimeoutError):
            channel.receive(0)
        channel.send({"op": "done", "outcome": "returned"})
        assert channel.receive(0) == {"op": "done", "outcome": "returned"}
    finally:
        channel.close()
