"""What the sandbox records of a run, and what it refuses before running anything: a stuck
REPL is stopped at its stall time with its own stack, the output is kept per input line, a
submission that is not plain files is refused by name, and without namespaces each child is
an unprivileged user of its own."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import GradeHere, SandboxPool

from grader.cases import load_case
from grader.cases.script import make_script
from grader.sandbox.runner import Limits, Sandbox
from tests.test_grader_hostile import submission

REPO = Path(__file__).resolve().parent.parent
CHAT = """\
id = "chat"
budget = 300
timeout = 20
stall = 1.5

[replies]
tokens = 20

[[lines]]
tokens = 30
repeat = 4
"""


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("cases") / "chat.toml"
    path.write_text(CHAT, encoding="utf-8")
    return make_script(load_case(path))


LIMITS = Limits(memory_mb=256, output_kb=64)


@pytest.fixture(scope="module")
def sandbox(sandboxes: SandboxPool) -> Sandbox:
    return sandboxes.get(LIMITS)


@pytest.fixture
def grade(grade_here: GradeHere) -> GradeHere:
    """``grade`` itself, run in this process on warm sandboxes (see conftest)."""
    return grade_here


def test_a_stuck_repl_is_stopped_at_its_stall_time_with_its_own_stack(
    sandbox: Sandbox,
    script,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    started = time.monotonic()
    run = sandbox.run(script, submission(tmp_path, "stall_after_line"))
    assert time.monotonic() - started < 8  # stall 1.5 s, far under the 20 s limit
    assert run.outcome.kind == "stalled"
    assert "read line 1 of 4, then sent no request" in run.outcome.message
    frames = run.outcome.stack.splitlines()
    assert frames[0].startswith("chat_repl.py, line ") and frames[0].endswith("in main")
    assert "in spin" in frames[-2]
    # Caught in the loop's test or in its body, as the signal falls.
    assert frames[-1].strip() in ("while time.monotonic() < deadline:", "pass"), frames
    assert str(sandbox.root) not in run.outcome.stack  # the student's names, not the copy's


def test_the_output_is_kept_per_input_line(sandbox: Sandbox, script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = sandbox.run(script, submission(tmp_path, "honest"))
    assert run.outcome.kind == "returned"
    assert run.lines_read == 4 and run.read_eof
    assert len(run.turns) == 4
    replies = [entry.reply for entry in run.journal]
    for turn, reply in zip(run.turns, replies, strict=True):
        assert reply and turn.strip() == reply  # _base's REPL prints the reply, and only it
    assert run.preamble == ""


def test_a_symbolic_link_to_the_reference_is_refused_by_name(
    tmp_path: Path, grade: GradeHere
) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "chat_repl.py").symlink_to(REPO / "solution" / "chat_repl.py")
    for target in (linked, linked / "chat_repl.py"):
        done = grade(target, "--case", "short_chat", "--format", "json")
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        assert report["score"] == 0 and report["passed"] is False
        assert "chat_repl.py is a symbolic link to " in report["error"]
        assert "submit the file itself" in report["error"]


def test_links_anywhere_and_oversized_files_are_refused_by_name(
    tmp_path: Path, grade: GradeHere
) -> None:
    folder = submission(tmp_path, "honest")
    (folder / "helpers").mkdir()
    (folder / "helpers" / "passwd.txt").symlink_to("/etc/passwd")
    done = grade(folder, "--case", "short_chat")
    assert "helpers/passwd.txt is a symbolic link to /etc/passwd" in done.stdout
    (folder / "helpers" / "passwd.txt").unlink()
    (folder / "big.bin").write_bytes(b"\0" * (3 * 1024 * 1024))
    done = grade(folder, "--case", "short_chat")
    assert "big.bin is 3 MB; each file may be at most 2 MB" in done.stdout
    assert "FileNotFoundError" not in done.stdout + done.stderr


def test_a_folder_without_the_file_says_what_it_found(tmp_path: Path, grade: GradeHere) -> None:
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    done = grade(folder / "chat_repl.py")
    assert "no such file" in done.stdout + done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a child as nobody")
def test_without_namespaces_each_child_is_a_user_of_its_own_and_the_report_says_so(
    script,
    tmp_path: Path,
    sandboxes: SandboxPool,  # type: ignore[no-untyped-def]
) -> None:
    box = sandboxes.get(LIMITS, namespaces=False)
    uids = []
    for number in range(2):
        run = box.run(script, submission(tmp_path / str(number), "whoami"))
        uids.append(int(run.output.split("UID ")[1].split()[0]))
    assert len(set(uids)) == 2 and min(uids) >= 2_000_000_000  # no account's, not shared
    assert run.outcome.kind == "returned", run.outcome
    assert "unprivileged user" in box.fence and "PID namespace" not in box.fence
    assert any("no file-system view" in gap for gap in box.missing_fences)


def test_every_report_format_says_which_fences_held(tmp_path: Path, grade: GradeHere) -> None:
    done = grade(REPO / "solution", "--case", "short_chat", "--format", "json")
    sandbox = json.loads(done.stdout)["sandbox"]
    assert "own file-system view" in sandbox["fences"] and "seccomp" in sandbox["fences"]
    assert sandbox["weaker"] == []
    out = tmp_path / "results.json"
    grade(REPO / "solution", "--case", "short_chat", "--format", "gradescope", "--output", out)
    assert json.loads(out.read_text())["extra_data"]["sandbox"] == sandbox
    done = grade(REPO / "solution", "--case", "short_chat", "--format", "junit")
    assert f'<property name="sandbox" value="{sandbox["fences"]}"' in done.stdout
