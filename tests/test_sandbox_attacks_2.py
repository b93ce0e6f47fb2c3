"""The grading sandbox attacked again (issue 8, second pass), after the zygote, the view, the
unprivileged user and seccomp: every attack ends in a clear failing verdict and leaks nothing.

Each test here once failed on an attack that won; none may fail again. The submissions are
in tests/hostile/; those that undo the audit hook copy _unhook.py beside them, since the
kernel's fences are what must hold. Every loop in them is bounded, and no network is used
but the submission's own requests, which the grader intercepts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SandboxPool
from test_grader_hostile import (  # noqa: F401  (fixtures, used by name)
    LIMITS,
    Grader,
    cases,
    failure,
    grader,
    sandbox,
    scripts,
)
from test_sandbox_attacks import (  # noqa: F401  (hidden_cases: a fixture, by name)
    attack,
    hidden_cases,
    visible_text,
)

from grader.cases import Case
from grader.grading import SubmissionReport, grade_submission, make_scripts
from grader.sandbox.runner import Sandbox

SHARED_PLACES = ("/tmp", "/dev/shm", "/var/tmp")  # what tests/hostile/tmp_drop.py tries


@pytest.fixture(scope="module")
def without_namespaces(sandboxes: SandboxPool) -> Sandbox:
    """The sandbox as where no namespace can be made (Gradescope's Docker): the child runs as
    nobody, with seccomp, but in the machine's own file system."""
    return sandboxes.get(LIMITS, namespaces=False)


@pytest.fixture
def tag() -> Iterator[str]:
    """A name for the drops of one run; whatever the submission left is removed after."""
    name = f"trimlab-drop-{uuid.uuid4().hex[:12]}"
    yield name
    for place in SHARED_PLACES:
        with contextlib.suppress(OSError):
            for entry in os.listdir(place):
                if entry.startswith(name):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(place, entry))


def grade_drop(box: Sandbox, own: list[Case], tmp_path: Path, tag: str) -> SubmissionReport:
    folder = attack(tmp_path, "tmp_drop", TAG=tag)
    return grade_submission(folder, own, make_scripts(own), sandbox=box)


def assert_no_hidden_line_shows(report: SubmissionReport) -> None:
    assert "RuntimeError: found" in failure(report, "visible", "repl_exits")
    shown = visible_text(report)
    assert "SECRET-HIDDEN-LINE" not in shown, shown[:2000]


# Hidden lines through a place two cases share


def test_no_shared_place_carries_hidden_lines_between_cases(
    grader: Grader,  # noqa: F811
    hidden_cases: list[Case],  # noqa: F811
    tmp_path: Path,
    tag: str,
) -> None:
    """Each case's child has a private /tmp and nothing else writable outside its copy: the
    hidden case's drop reaches no other case."""
    assert_no_hidden_line_shows(grade_drop(grader.sandbox, hidden_cases, tmp_path, tag))


def test_no_shared_place_carries_hidden_lines_without_namespaces(
    without_namespaces: Sandbox,
    hidden_cases: list[Case],  # noqa: F811
    tmp_path: Path,
    tag: str,
) -> None:
    report = grade_drop(without_namespaces, hidden_cases, tmp_path, tag)
    if "unprivileged user" not in without_namespaces.fence:
        pytest.skip(f"only {without_namespaces.fence} here (the grader is not root)")
    assert_no_hidden_line_shows(report)
