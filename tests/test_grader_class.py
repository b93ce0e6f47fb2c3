"""A class of 50 submissions through the real ``grade`` command, two at a time.

Correct ones are copies of the reference solution; wrong ones are the reference with one
deterministic textual mutation each; hostile ones come from tests/hostile/. They are shuffled
(with a fixed seed), so that honest submissions are graded right after hostile ones, by the
same two workers. Every row of the CSV summary must be exactly right.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from conftest import GradeHere

from grader.sandbox.runner import package_root

HOSTILE = Path(__file__).parent / "hostile"
CASES = HOSTILE / "cases"
REFERENCE = Path(package_root()) / "solution" / "chat_repl.py"
GRADE = Path(sys.executable).parent / "grade"
SECRET = "sk-live-trimlab-class-test-0123456789"  # in the grader's environment, for no one else

# name: (text in the reference, its replacement, the checks that must fail)
MUTATIONS: dict[str, tuple[str, str, set[str]]] = {
    "content_only_count": (
        "return REPLY_PRIMING + sum(",
        "return sum(",
        {"functions:count_tokens"},
    ),
    "two_per_message": (
        "TOKENS_PER_MESSAGE = 3",
        "TOKENS_PER_MESSAGE = 2",
        {"functions:count_tokens", "functions:trim_function"},  # too small to show in the chat
    ),
    "drops_system": (
        "return [*pinned[: len(pinned) - pinned_kept], *messages[start:]]",
        "return list(messages[start:])",
        {"functions:trim_function", "chat:system_kept"},
    ),
    "no_trimming": (
        "    # The pinned messages and the newest other",
        "    return list(messages)\n    # The pinned messages and the newest other",
        {"functions:trim_function", "chat:under_budget", "chat:oversize_handled"},
    ),
    # keeps as many newest messages as the oldest ones that fit (a too-long line is refused
    # before the scan, so oversize_handled holds)
    "scans_from_oldest": (
        "for message in reversed(messages):",
        "for message in messages:",
        {"functions:trim_function", "chat:under_budget", "chat:system_kept"},
    ),
    "forgets_replies": (
        'self.history = [*messages, {"role": "assistant", "content": reply}]',
        "self.history = list(messages)",
        {"chat:history_kept"},
    ),
    "exits_at_eof": (
        "except EOFError:\n            break",
        "except EOFError:\n            sys.exit(1)",
        {"chat:repl_exits"},
    ),
    "oversize_raises": (
        "except BudgetError as exc:",
        "except KeyError as exc:",
        {"chat:repl_exits"},  # told once: oversize_handled waits for main() to finish
    ),
    "syntax_error": ("def say(", "def say(:", {"functions:loads", "chat:loads"}),
    "no_main": ("def main(", "def main_loop(", {"functions:loads", "chat:loads"}),
}

CHAT_FAILS = {"chat:repl_exits"}
# name: (values for its CAPITALS, the checks that must fail, what the report must say)
HOSTILE_KINDS: dict[str, tuple[dict[str, Any], set[str], str]] = {
    "loop_forever": ({}, CHAT_FAILS, "did not finish within 3 s"),
    "sys_exit": ({}, CHAT_FAILS, "called sys.exit(3)"),
    "os_exit": ({}, CHAT_FAILS, "exited with code 0"),
    "memory_bomb": ({}, CHAT_FAILS, "more than its 256 MB of memory"),
    "big_output": ({}, CHAT_FAILS, "more than its 64 KB of output"),
    "network": ({"PORT": 0}, CHAT_FAILS, "network access is disabled while grading"),
    "env_keys": ({}, CHAT_FAILS, "no API key found"),
    "spawn": ({"MARKER": ""}, CHAT_FAILS, "starting processes is disabled while grading"),
    "pipe_garbage": ({}, CHAT_FAILS, "not a grading message"),
    "write_outside": ({"TARGETS": []}, CHAT_FAILS, "writing outside its working directory"),
    "monkeypatch": ({}, {"functions:count_tokens"}, "count_tokens was wrong"),  # its trim is right
    "copy_reference": (
        {"REFERENCE": str(REFERENCE)},
        {"functions:loads", "chat:loads"},
        "reading the grader's own files is disabled",
    ),
}
CORRECT, WRONG_EACH = 17, 2  # 17 + 2 x 10 mutations + 12 hostile + 1 empty = 50


@dataclass
class Expected:
    kind: str
    failed: set[str] = field(default_factory=set)
    says: str = ""  # a phrase the JSON report must hold for it
    error: str = ""  # it cannot be graded at all, for this reason


def mutate(name: str, number: int) -> str:
    old, new, _ = MUTATIONS[name]
    text = REFERENCE.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"solution/chat_repl.py changed: mutation {name} needs {old!r}"
    return f"# wrong on purpose: {name} ({number})\n" + text.replace(old, new)


def hostile_text(name: str, values: dict[str, Any]) -> str:
    text = (HOSTILE / f"{name}.py").read_text(encoding="utf-8")
    for key, value in values.items():
        text, count = re.subn(rf"^{key} = None\b.*$", f"{key} = {value!r}", text, flags=re.M)
        assert count == 1, f"{name}.py has no {key} = None"
    return text


def build_class(folder: Path, port: int, marker: Path, outside: Path) -> dict[str, Expected]:
    """Fifty submission folders, shuffled under numbered names; what each must get."""
    plans: list[tuple[Expected, dict[str, str]]] = []
    reference = REFERENCE.read_text(encoding="utf-8")
    for n in range(CORRECT):
        plans.append((Expected("correct"), {"chat_repl.py": f"# copy {n}\n{reference}"}))
    for name, (_, _, failed) in MUTATIONS.items():
        for n in range(WRONG_EACH):
            plans.append((Expected(name, set(failed)), {"chat_repl.py": mutate(name, n)}))
    base = (HOSTILE / "_base.py").read_text(encoding="utf-8")
    for name, (values, failed, says) in HOSTILE_KINDS.items():
        values = {
            **values,
            **({"PORT": port} if "PORT" in values else {}),
            **({"MARKER": str(marker)} if "MARKER" in values else {}),
            **({"TARGETS": [str(outside)]} if "TARGETS" in values else {}),
        }
        files = {"chat_repl.py": hostile_text(name, values), "_base.py": base}
        plans.append((Expected(name, set(failed), says), files))
    plans.append(
        (
            Expected("empty", error="no chat_repl.py here (found: notes.txt)"),
            {"notes.txt": "forgot the code\n"},
        )
    )
    assert len(plans) == 50
    random.Random(2026).shuffle(plans)
    expected = {}
    for number, (expectation, files) in enumerate(plans, start=1):
        name = f"s{number:02d}-{expectation.kind}"
        (folder / name).mkdir(parents=True)
        for file, text in files.items():
            (folder / name / file).write_text(text, encoding="utf-8")
        expected[name] = expectation
    return expected


@dataclass
class ClassRun:
    expected: dict[str, Expected]
    process: subprocess.CompletedProcess[str]
    rows: dict[str, dict[str, str]]
    report: list[dict[str, Any]]
    seconds: float
    arrived: list[str]  # anything that reached the loopback listener
    written: list[Path]  # files written outside the submissions' working copies


# The tests that read the class run run in one process, which runs it once.
CLASS_RUN = pytest.mark.xdist_group("class_run")


@pytest.fixture(scope="module")
def class_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassRun]:
    if not GRADE.exists():
        pytest.skip(f"no grade command at {GRADE}")
    root = tmp_path_factory.mktemp("class")
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    marker, outside = root / "spawned", root / "outside.txt"
    expected = build_class(root / "class", port, marker, outside)
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "TRIMLAB_SECRET": SECRET}
    command = [str(GRADE), str(root / "class"), "--cases", str(CASES), "--jobs", "2"]
    command += ["--summary", str(root / "summary.csv"), "--format", "json"]
    command += ["--output", str(root / "report.json"), "--memory-mb", "256", "--output-kb", "64"]
    started = time.monotonic()
    with tcp, udp:
        process = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        seconds = time.monotonic() - started
        arrived = []
        tcp.setblocking(False)
        udp.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            arrived.append(f"tcp from {tcp.accept()[1]}")
        with contextlib.suppress(BlockingIOError):
            arrived.append(f"udp {udp.recv(64)!r}")
    with (root / "summary.csv").open(encoding="utf-8", newline="") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    written = [p for p in (marker, outside) if p.exists()]
    yield ClassRun(expected, process, rows, report, seconds, arrived, written)


@CLASS_RUN
def test_every_row_of_the_summary_is_right(class_run: ClassRun) -> None:
    assert class_run.process.returncode == 1, class_run.process.stderr
    assert sorted(class_run.rows) == sorted(class_run.expected)
    wrong = []
    for name, expected in sorted(class_run.expected.items()):
        row = class_run.rows[name]
        failed = set(row["failed_checks"].split())
        scores = (row["score"], row["max_score"])
        if expected.error:
            right = expected.error in row["error"] and scores == ("0", "0") and not failed
        else:
            full = scores == ("4", "4")
            right = not row["error"] and failed == expected.failed and full == (not failed)
        if not right:
            wrong.append((name, dict(row), sorted(expected.failed)))
    assert not wrong, "\n".join(map(str, wrong))


@CLASS_RUN
def test_hostile_ones_fail_for_the_right_reason(class_run: ClassRun) -> None:
    by_name = {entry["submission"]: entry for entry in class_run.report}
    for name, expected in class_run.expected.items():
        if expected.says:
            said = " ".join(
                c["message"] for c in by_name[name]["checks"] if c["status"] != "passed"
            )
            assert expected.says in said, (name, said)


@CLASS_RUN
def test_nothing_escaped(class_run: ClassRun) -> None:
    assert class_run.arrived == []
    assert class_run.written == []
    everything = class_run.process.stdout + class_run.process.stderr + json.dumps(class_run.report)
    assert SECRET not in everything and SECRET not in json.dumps(class_run.rows)


@CLASS_RUN
def test_the_run_ends_with_a_summary_in_good_time(class_run: ClassRun) -> None:
    assert "17 of 50 submissions passed every check" in class_run.process.stderr
    assert "summary written to" in class_run.process.stderr
    assert class_run.seconds < 120, f"{class_run.seconds:.0f} s for 50 submissions"


def test_usage_errors_are_clear_and_quick(tmp_path: Path, grade_here: GradeHere) -> None:
    for n in range(2):
        (tmp_path / "class" / f"s{n}").mkdir(parents=True)
        shutil.copy(REFERENCE, tmp_path / "class" / f"s{n}" / "chat_repl.py")
    (tmp_path / "empty").mkdir()
    for args, says in (
        (["class", "--format", "gradescope"], "takes exactly one submission, not 2"),
        (["empty"], "no chat_repl.py here, and no submission folders"),
        (["missing"], "missing: no such file or directory"),
        (["class", "--output", "nowhere/report.json"], "nowhere: no such directory"),
        (["class", "--summary", "nowhere/summary.csv"], "nowhere: no such directory"),
        (["class", "--cases", "nowhere"], "no such directory of cases"),
        (["--gradescope-bundle", "class"], "is a directory"),
        (["class", "--gradescope-bundle", "b.zip"], "give it no PATH"),
    ):
        started = time.monotonic()
        result = grade_here(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert time.monotonic() - started < 10  # refused before any worker starts


def test_junit_report_for_ci(tmp_path: Path, grade_here: GradeHere) -> None:
    (tmp_path / "class" / "right").mkdir(parents=True)
    shutil.copy(REFERENCE, tmp_path / "class" / "right" / "chat_repl.py")
    (tmp_path / "class" / "wrong").mkdir()
    (tmp_path / "class" / "wrong" / "chat_repl.py").write_text(mutate("content_only_count", 0))
    report = tmp_path / "report.xml"
    result = grade_here(
        "class", "--cases", CASES, "--format", "junit", "--output", report, cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    suites = {s.get("name"): s for s in ElementTree.parse(report).getroot()}
    assert suites["right"].get("failures") == "0"
    assert suites["wrong"].get("failures") == "1"
    failure = suites["wrong"].find("testcase/failure")
    assert failure is not None and "count_tokens was wrong" in failure.get("message", "")
