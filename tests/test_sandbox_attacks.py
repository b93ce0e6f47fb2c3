"""The grading sandbox attacked as a hostile student would attack it (issue 8): every attack
ends in a clear failing verdict, and nothing outside the submission's own copy leaks.

The submissions are in tests/hostile/ (some undo the audit hook first, with _unhook.py: the
kernel's fences are what must hold). Each runs in the module's sandbox, and where the kernel's
fences alone are the question, also in one without the audit hook. Each of these tests once
failed, on an attack that won; none may fail again.

Every loop in a submission is bounded; the only network is the submission's own requests,
which the grader intercepts.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SandboxPool
from test_grader_hostile import (  # noqa: F401  (fixtures, used by name)
    HONEST,
    HOSTILE,
    LIMITS,
    Grader,
    assert_functions_pass,
    assert_still_grades,
    cases,
    failure,
    grader,
    sandbox,
    scripts,
    submission,
)

from grader.cases import Case, load_cases
from grader.grading import SubmissionReport, grade_submission, make_scripts
from grader.report.formats import as_gradescope
from grader.sandbox.runner import Sandbox, package_root

REFERENCE = Path(package_root()) / "solution" / "chat_repl.py"
KERNEL_FENCES = ("network namespace", "PID namespace", "own file-system view", "seccomp")


def attack(tmp_path: Path, name: str, **values: Any) -> Path:
    """tests/hostile/NAME.py as a submission, with _unhook.py beside _base.py."""
    folder = submission(tmp_path / "hook", name, **values)
    shutil.copy(HOSTILE / "_unhook.py", folder)
    return folder


@pytest.fixture(scope="module")
def bare(sandboxes: SandboxPool) -> Sandbox:
    """A sandbox without the audit hook: the kernel's fences alone."""
    return sandboxes.get(LIMITS, audit_hook=False)


@pytest.fixture
def boxes(grader: Grader, bare: Sandbox) -> list[Sandbox]:  # noqa: F811
    """Both sandboxes, once the bare one is known to have every kernel fence."""
    bare.run(grader.scripts[1], grader.honest / "chat_repl.py")
    if not all(fence in bare.fence for fence in KERNEL_FENCES):
        pytest.skip(f"only {bare.fence} here")
    return [grader.sandbox, bare]


def grade_chat(grader: Grader, folder: Path, box: Sandbox | None = None) -> SubmissionReport:  # noqa: F811
    """The chat case alone: these attacks are in main()."""
    chat = [i for i, case in enumerate(grader.cases) if case.id == "chat"]
    return grade_submission(
        folder,
        [grader.cases[i] for i in chat],
        [grader.scripts[i] for i in chat],
        sandbox=box or grader.sandbox,
    )


def everything(report: SubmissionReport) -> str:
    """All a student or an instructor can read of a report."""
    parts = [report.error or "", *report.outputs.values()]
    for result in report.results:
        shown = (result.expected, result.actual, result.where)
        parts += [result.message, *(str(value or "") for value in shown)]
    return "\n".join(parts)


# Full marks without code of one's own


def test_the_reference_through_root_aliases(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    """/proc/self/root, /proc/thread-self/root, /proc/1/root + the package root: nothing."""
    report = grader.grade(attack(tmp_path, "proc_root_reference"))
    assert report.score == 0
    assert "REFERENCE LOADED" not in everything(report)
    assert "the reference is out of reach" in failure(report, "functions", "loads")


def symlinked(tmp_path: Path, target: Path, name: str = "chat_repl.py") -> Path:
    """A submission whose NAME is a symbolic link to ``target``; its other files are real."""
    folder = tmp_path / "linked"
    folder.mkdir()
    shutil.copy(HOSTILE / "_base.py", folder)
    if name != "chat_repl.py":
        (folder / "chat_repl.py").write_text(HONEST)
        (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(target)
    return folder


def assert_link_refused(report: SubmissionReport, name: str) -> None:
    text = everything(report)
    assert report.score == 0, text[:2000]
    assert name in text and ("symbolic link" in text or "symlink" in text), text[:2000]


def test_a_symlink_to_the_reference_is_refused(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    assert_link_refused(grader.grade(symlinked(tmp_path, REFERENCE)), "chat_repl.py")


def test_a_symlink_to_a_file_outside_is_refused(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    """Any .py file of the grader's machine: here one whose first line is not Python, so that
    the load error quotes it."""
    secret = tmp_path / "instructor" / "notes.py"
    secret.parent.mkdir()
    secret.write_text("SECRET-OUTSIDE-FILE: the answers are in the locked drawer\n")
    report = grader.grade(symlinked(tmp_path, secret))
    assert "SECRET-OUTSIDE-FILE" not in everything(report)
    assert_link_refused(report, "chat_repl.py")


def test_a_symlinked_helper_is_refused_by_name(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    report = grader.grade(symlinked(tmp_path, HOSTILE / "_base.py", name="_base.py"))
    assert_link_refused(report, "_base.py")


def test_an_oversize_submission_names_the_cap(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    folder = submission(tmp_path / "big", "honest")
    padding = "# " + "x" * 98 + "\n"
    (folder / "chat_repl.py").write_text(HONEST + padding * 30_000)  # 3 MB
    report = grader.grade(folder)
    text = everything(report)
    assert report.score == 0 and "FileNotFoundError" not in text
    assert "chat_repl.py" in text and "MB" in text, text[:2000]


def test_the_graders_own_counter_is_out_of_reach(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    report = grader.grade(attack(tmp_path, "grader_counter"))
    assert "GRADER COUNTER" not in everything(report)
    failure(report, "functions", "count_tokens")


# No program starts


def test_no_program_starts_in_any_way(
    grader: Grader,  # noqa: F811
    boxes: list[Sandbox],
    tmp_path: Path,
) -> None:
    """subprocess._fork_exec, posix_spawn, fork, forkpty, pty.fork, spawnv, multiprocessing,
    and libc's fork, vfork, clone and execve through ctypes once the hook is undone."""
    for number, box in enumerate(boxes):
        folder = attack(tmp_path / str(number), "start_programs")
        report = grade_chat(grader, folder, box)
        message = failure(report, "chat", "repl_exits")
        assert "could not start a program" in message
        for name in ("subprocess._fork_exec", "os.posix_spawn", "os.fork", "pty.fork",
                     "libc fork", "libc execve", "libc clone", "os.execv"):  # fmt: skip
            assert f"'{name}': " in message, name
        assert "STARTED" not in message
        printed = report.outputs["chat"]
        assert "FORKED" not in printed and "SHELL-RAN" not in printed
        assert "Operation not permitted" in message
        assert_still_grades(grader)


# Nothing outside its own copy is readable


@pytest.fixture
def marker() -> Iterator[tuple[Path, str]]:
    """A file directly under /tmp, as another project's or another student's would be."""
    text = f"SECRET-TMP-MARKER-{os.getpid()}"
    with tempfile.NamedTemporaryFile("w", dir="/tmp", prefix="trimlab-attack-", suffix=".txt") as f:
        f.write(text + "\n")
        f.flush()
        yield Path(f.name), text


def test_nothing_outside_its_copy_is_readable(
    grader: Grader,  # noqa: F811
    boxes: list[Sandbox],
    marker: tuple[Path, str],
    tmp_path: Path,
) -> None:
    """A marker under /tmp, the --cases folder's TOML, the grader's /proc entries, the other
    cases' folders and the worker's log: by path, through the root's aliases, through links
    made in its copy, and by walking its view; with the audit hook undone, and without one."""
    cases_dir = tmp_path / "cases"
    shutil.copytree(HOSTILE / "cases", cases_dir)
    toml = cases_dir / "02_chat.toml"
    toml.write_text("# SECRET-TOML-MARKER: this folder is the grader's\n" + toml.read_text())
    own_cases = load_cases(cases_dir)
    own_scripts = make_scripts(own_cases)
    grader_cmdline = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().replace(b"\0", b" ")
    secrets = [marker[1], "SECRET-TOML-MARKER", grader_cmdline.decode(errors="replace").strip()]
    targets = [str(marker[0]), str(toml), str(REFERENCE)]
    for number, box in enumerate(boxes):
        folder = attack(tmp_path / str(number), "read_outside", TARGETS=targets,
                        GRADER_PID=os.getpid())  # fmt: skip
        report = grade_submission(folder, own_cases, own_scripts, sandbox=box)
        text = everything(report)
        assert "read nothing outside" in failure(report, "chat", "repl_exits")
        for secret in secrets:
            assert secret not in text
        printed = report.outputs["chat"]
        assert "LEAK" not in printed, [line for line in printed.splitlines() if "LEAK" in line]
        assert "pids: ['1']" in printed  # its own PID namespace: no other process to see
        descriptors = next(line for line in printed.splitlines() if line.startswith("descr"))
        assert "directory" not in descriptors and "socket" not in descriptors, descriptors


HIDDEN_CASES = {
    "01_hidden.toml": """
        id = "hidden"
        description = "A hidden chat"
        visibility = "hidden"
        points = 1
        budget = 300
        system = "You are a helpful assistant."
        timeout = 3
        [replies]
        tokens = 20
        [[lines]]
        text = "SECRET-HIDDEN-LINE alpha"
        [[lines]]
        text = "SECRET-HIDDEN-LINE bravo"
        """,
    "02_visible.toml": """
        id = "visible"
        description = "A visible chat"
        points = 1
        budget = 300
        system = "You are a helpful assistant."
        timeout = 3
        [replies]
        tokens = 20
        [[lines]]
        text = "an ordinary visible line"
        """,
}


@pytest.fixture
def hidden_cases(tmp_path: Path) -> list[Case]:
    folder = tmp_path / "hidden-cases"
    folder.mkdir()
    for name, text in HIDDEN_CASES.items():
        (folder / name).write_text(textwrap.dedent(text))
    return load_cases(folder)


def test_hidden_lines_never_show_in_a_visible_test(
    grader: Grader,  # noqa: F811
    hidden_cases: list[Case],
    tmp_path: Path,
) -> None:
    report = grade_submission(
        attack(tmp_path, "memory_leak"), hidden_cases, make_scripts(hidden_cases),
        sandbox=grader.sandbox,
    )  # fmt: skip
    shown = visible_text(report)
    assert "SECRET-HIDDEN-LINE" not in shown, shown[:2000]


def test_each_case_remembers_only_its_own_encodings(
    grader: Grader,  # noqa: F811
    hidden_cases: list[Case],
    tmp_path: Path,
) -> None:
    """tiktoken's encode is remembered in each child (grader/sandbox/encode_memo.py); the
    memory starts empty in every case, and a hidden case's lines never reach a visible one."""
    report = grade_submission(
        attack(tmp_path, "memo_peek"), hidden_cases, make_scripts(hidden_cases),
        sandbox=grader.sandbox,
    )  # fmt: skip
    hidden = failure(report, "hidden", "repl_exits")
    visible = failure(report, "visible", "repl_exits")
    for message in (hidden, visible):
        assert "wrapped=True before=[]" in message, message
    assert "SECRET-HIDDEN-LINE alpha" in hidden  # what it encoded itself, it finds
    assert "an ordinary visible line" in visible
    assert "SECRET-HIDDEN-LINE" not in visible_text(report), visible_text(report)[:2000]


def visible_text(report: SubmissionReport) -> str:
    """All a student sees of the visible case: its Gradescope tests and its output."""
    tests = [t for t in as_gradescope(report)["tests"] if t["visibility"] == "visible"]
    assert tests
    return "\n".join(t["output"] for t in tests) + report.outputs["visible"]


# The machine's own settings


def test_no_machine_setting_is_writable(
    grader: Grader,  # noqa: F811
    boxes: list[Sandbox],
    tmp_path: Path,
) -> None:
    """The submission opens them for writing and closes them at once: it never writes."""
    for number, box in enumerate(boxes):
        report = grade_chat(grader, attack(tmp_path / str(number), "sysctl_write"), box)
        message = failure(report, "chat", "repl_exits")
        assert "/proc/sys/kernel/core_pattern" in message
        assert "WRITABLE" not in message, message


# The grader's own resources


GRADE_IN_A_CHILD = """
import json, resource, sys
from pathlib import Path
from grader.cases import load_cases
from grader.grading import grade_submission
from grader.sandbox.runner import Limits
report = grade_submission(Path(sys.argv[1]), load_cases(Path(sys.argv[2])),
                          limits=Limits(memory_mb=256, output_kb=64))
print(json.dumps({
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "messages": [r.message for r in report.results if not r.passed],
}))
"""
ADDRESS_SPACE_GUARD = 3 << 30  # the grader in the child may not take the machine down


BOMB_CASE = """
id = "long"
description = "A long chat: the more lines, the more bytes of requests a REPL may send"
points = 1
budget = 300
system = "You are a helpful assistant."
timeout = 30  # the flood limit ends it: all it may send, whatever the load
[replies]
tokens = 5
[[lines]]
text = "hello"
repeat = 70
"""


def test_request_bodies_cannot_push_the_grader_past_1_gb(tmp_path: Path) -> None:
    """The grader runs in a child process here, so that its peak is its own."""
    cases_dir = tmp_path / "cases"
    cases_dir.mkdir()
    (cases_dir / "long.toml").write_text(BOMB_CASE)
    folder = submission(tmp_path, "journal_bomb")

    def guard() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_GUARD, ADDRESS_SPACE_GUARD))

    done = subprocess.run(
        [sys.executable, "-c", GRADE_IN_A_CHILD, str(folder), str(cases_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=guard,
        cwd=package_root(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not any("the grader failed" in m for m in result["messages"]), result["messages"]
    assert result["peak_mb"] < 1024, f"the grader's peak: {result['peak_mb']:.0f} MB"


def test_a_deep_request_fails_no_sibling_case(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    worker = grader.worker()
    report = grader.grade(attack(tmp_path, "deep_request"))
    assert "the grader failed" not in everything(report)
    assert_functions_pass(report)
    assert_still_grades(grader, worker)


def test_a_deep_line_in_the_pipe_fails_no_sibling_case(grader: Grader, tmp_path: Path) -> None:  # noqa: F811
    worker = grader.worker()
    report = grader.grade(attack(tmp_path, "deep_message"))
    assert "not a grading message" in failure(report, "chat", "repl_exits")
    assert_functions_pass(report)
    assert_still_grades(grader, worker)


def test_a_child_that_reads_no_replies_cannot_hold_the_grader(
    grader: Grader,  # noqa: F811
    tmp_path: Path,
) -> None:
    cases_dir = tmp_path / "cases"
    shutil.copytree(HOSTILE / "cases", cases_dir)
    chat = cases_dir / "02_chat.toml"
    chat.write_text(chat.read_text().replace("timeout = 3", "timeout = 1"))
    own_cases = load_cases(cases_dir)
    started = time.monotonic()
    report = grade_submission(
        attack(tmp_path, "unread_replies"), own_cases, make_scripts(own_cases),
        sandbox=grader.sandbox,
    )  # fmt: skip
    assert time.monotonic() - started < 5  # 1 s for the chat case, 1 s for its stack; 6 asleep
    failure(report, "chat", "repl_exits")
    assert_functions_pass(report)


def test_memory_held_outside_the_address_space_is_limited_too(
    grader: Grader,  # noqa: F811
    tmp_path: Path,
) -> None:
    limit = LIMITS.memory_mb
    goal = (limit + 44) * 1024 * 1024
    report = grade_chat(grader, attack(tmp_path, "memfd_hoard", GOAL=goal))
    message = failure(report, "chat", "repl_exits")
    held = int(message.split("HELD ")[1].split()[0]) if "HELD " in message else 0
    assert held < limit, message
