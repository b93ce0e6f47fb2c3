"""The grader against a corpus of student programs: each wrong one fails the check its mistake is
about, with a message that names the problem; each correct one, however it is written, passes.

The programs are tests/corpus/<name>/chat_repl.py; what the grader must say about each is in
tests/corpus/expected.toml. One grading worker (a Sandbox) serves every submission in turn,
and grades each once: the tests about one submission read the same report (under pytest-xdist
they are one group, so they run in the same process).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.cases import BUILTIN_CASES, Case, load_case, load_cases
from grader.cases.script import Script
from grader.checks import CHECKS, CheckResult
from grader.grading import SubmissionReport, grade_submission, make_scripts
from grader.report.formats import as_text
from grader.sandbox.runner import Sandbox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ALL_CHECKS = [c.id for c in CHECKS.values() if c.reported]
REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
TEST_CASES = CORPUS / "cases"
KEYS = {"mistake", "passes", "first", "family", "never", "fails", "also_fails", "all_skipped",
        "cases"}  # fmt: skip
# Run again under openai 2.x by .ci/run: the reference, a wrong and two correct variants that
# take the SDK's other paths (async, streaming).
OPENAI_COMPAT = {"content_only", "async_client", "streaming"}


@dataclass(frozen=True)
class Expectation:
    name: str
    mistake: str
    passes: bool = False
    first: str = ""
    family: str = ""
    never: tuple[str, ...] = ()
    fails: dict[str, str] = field(default_factory=dict)
    also_fails: tuple[str, ...] = ()
    all_skipped: bool = False
    cases: tuple[str, ...] = ()  # test-only case ids; () is the built-in suite


def read_expectations() -> dict[str, Expectation]:
    data = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
    expectations = {}
    for name, entry in data.items():
        unknown = set(entry) - KEYS
        assert not unknown, f"expected.toml [{name}]: unknown keys {sorted(unknown)}"
        expectation = Expectation(
            name=name,
            mistake=entry["mistake"],
            passes=entry.get("passes", False),
            first=entry.get("first", ""),
            family=entry.get("family", ""),
            never=tuple(entry.get("never", ())),
            fails=dict(entry.get("fails", {})),
            also_fails=tuple(entry.get("also_fails", ())),
            all_skipped=entry.get("all_skipped", False),
            cases=tuple(entry.get("cases", ())),
        )
        named = {*expectation.fails, *expectation.also_fails} | ({expectation.first} - {""})
        assert named <= set(ALL_CHECKS), f"[{name}]: no such check {sorted(named - {*ALL_CHECKS})}"
        assert expectation.passes != bool(expectation.fails), f"[{name}]: passes xor fails"
        if not expectation.passes:
            assert expectation.first and expectation.family, f"[{name}]: first and family"
            assert expectation.family not in expectation.never, name
        expectations[name] = expectation
    return expectations


EXPECTED = read_expectations()
WRONG = sorted(name for name, e in EXPECTED.items() if not e.passes)
CORRECT = sorted(name for name, e in EXPECTED.items() if e.passes)


def variants(names: Sequence[str]) -> list[Any]:
    """One parameter per submission; those in OPENAI_COMPAT also run under openai 2.x. The
    tests of one submission are one xdist group: one process grades it, once."""
    params = []
    for name in names:
        marks = [pytest.mark.xdist_group(f"corpus-{name}")]
        if name in OPENAI_COMPAT:
            marks.append(pytest.mark.openai_compat)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@dataclass(frozen=True)
class Suite:
    cases: list[Case]
    scripts: list[Script]


@pytest.fixture(scope="session")
def builtin_suite(sandbox: Sandbox) -> Suite:
    """The built-in cases, their scripts made once (while the worker warms up)."""
    cases = load_cases(BUILTIN_CASES)
    return Suite(cases, make_scripts(cases))


@pytest.fixture(scope="session")
def test_suites() -> dict[str, Suite]:
    """Each test-only case by id, scripted once."""
    suites = {}
    for path in sorted(TEST_CASES.glob("*.toml")):
        case = load_case(path)
        suites[case.id] = Suite([case], make_scripts([case]))
    return suites


Grade = Callable[[Path, Sequence[str]], SubmissionReport]


@pytest.fixture(scope="session")
def grade(sandbox: Sandbox, builtin_suite: Suite, test_suites: dict[str, Suite]) -> Grade:
    """Grade a submission on the built-in suite, or on the named test-only cases; a submission
    graded before on the same cases gets the report it got then (the tests only read it)."""
    graded: dict[tuple[Path, tuple[str, ...]], SubmissionReport] = {}

    def run(path: Path, case_ids: Sequence[str] = ()) -> SubmissionReport:
        key = (path, tuple(case_ids))
        if key not in graded:
            graded[key] = grade_once(path, case_ids)
        return graded[key]

    def grade_once(path: Path, case_ids: Sequence[str]) -> SubmissionReport:
        if not case_ids:
            suite = builtin_suite
        else:
            chosen = [test_suites[case_id] for case_id in case_ids]
            suite = Suite(
                [c for s in chosen for c in s.cases], [x for s in chosen for x in s.scripts]
            )
        return grade_submission(path, suite.cases, suite.scripts, sandbox=sandbox)

    return run


def show(report: SubmissionReport) -> str:
    """Every check that did not pass, for an assertion's message."""
    lines = [f"{report.name}: {report.score} / {report.max_score}"]
    for r in report.results:
        if r.status != "passed":
            lines.append(f"  {r.status} {r.case}:{r.id} [{r.family}]: {r.message}\n"
                         f"    hint: {r.help}")  # fmt: skip
    return "\n".join(lines)


def failed(report: SubmissionReport, check: str) -> list[CheckResult]:
    return [r for r in report.results if r.id == check and r.status == "failed"]


# --- the corpus ---------------------------------------------------------------------------------


def test_expected_toml_and_the_corpus_agree() -> None:
    programs = {p.parent.name for p in CORPUS.glob("*/chat_repl.py")}
    assert programs == set(EXPECTED), "a program without an entry, or an entry without one"
    assert len(WRONG) >= 12 and len(CORRECT) >= 6
    known_cases = {p.stem for p in TEST_CASES.glob("*.toml")}
    for expectation in EXPECTED.values():
        assert set(expectation.cases) <= known_cases, expectation.name


@pytest.mark.parametrize("name", variants(WRONG))
def test_a_wrong_submission_fails_the_check_its_mistake_is_about(name: str, grade: Grade) -> None:
    expectation = EXPECTED[name]
    report = grade(CORPUS / name, expectation.cases)
    assert report.error is None, report.error
    context = f"{name} ({expectation.mistake})\n{show(report)}"
    for check, fragment in expectation.fails.items():
        failures = failed(report, check)
        assert failures, f"{check} did not fail for {context}"
        assert any(fragment in r.message for r in failures), (
            f"no {check} failure says {fragment!r}: {context}"
        )
        # A message for a student, not a stack dump of the grader.
        assert not any("Traceback (most recent call last)" in r.message for r in failures)
    failing = {r.id for r in report.results if r.status == "failed"}
    assert failing == {*expectation.fails, *expectation.also_fails}, context
    assert not report.passed and report.score < report.max_score
    if expectation.all_skipped:
        rest = [r for r in report.results if r.id not in expectation.fails]
        assert rest and all(r.status == "skipped" for r in rest), context
        assert all(r.cause in expectation.fails for r in rest), context


@pytest.mark.parametrize("name", variants(WRONG))
def test_the_first_failure_leads_to_the_mistake_and_no_hint_misleads(
    name: str, grade: Grade
) -> None:
    """The first failure a student reads names the check and the cause; no other failure in
    the report offers a cause the evidence does not show."""
    expectation = EXPECTED[name]
    report = grade(CORPUS / name, expectation.cases)
    context = f"{name} ({expectation.mistake})\n{show(report)}"
    failures = [r for r in report.results if r.status == "failed"]
    assert failures, context
    assert failures[0].id == expectation.first, context
    assert failures[0].family == expectation.family, context
    assert failures[0].help, f"the first failure gives no hint: {context}"
    text = as_text(report, color=False)
    # Frames are named as the student knows the file, never by the grader's own paths.
    assert str(CORPUS) not in text.split("\n", 1)[1], context
    # A case that tells nothing new is one line: the same failure is never a block again.
    blocks = text.split("\ncase ")[1:]
    for block in blocks:
        if ": the same as case " in block.splitlines()[0]:
            continue  # already one line, with what is new in it below
        lines = [line for line in block.splitlines()[1:] if line.strip()]
        told = [line for line in lines if not line.startswith(("   tokens per request:", ":)"))]
        assert not told or not all(": the same cause as in case " in line or line.startswith(":|")
                                   for line in told), f"a case repeats another: {text}"  # fmt: skip
    # A screen of words: the per-case token sparkline is a picture beside them, not counted.
    words = [line for line in text.splitlines()
             if not line.startswith("   tokens per request:")]  # fmt: skip
    assert len(words) <= 45, "longer than a screen"
    misleading = [f"{r.case}:{r.id} [{r.family}]" for r in failures if r.family in
                  expectation.never]  # fmt: skip
    assert not misleading, f"misleading hints {misleading}: {context}"
    for r in failures:  # a hint that blames an earlier failure names one that is there
        if r.family.startswith("follows:"):
            culprit = r.family.split(":", 1)[1]
            assert any(f.id == culprit for f in failures if f is not r), context


@pytest.mark.parametrize("name", variants(CORRECT))
def test_a_correct_submission_passes_every_check(name: str, grade: Grade) -> None:
    report = grade(CORPUS / name, EXPECTED[name].cases)
    assert report.error is None, report.error
    assert report.passed, show(report)
    assert {r.id for r in report.results} >= set(ALL_CHECKS)
    assert report.score == report.max_score > 0


# --- the reference and the stub -----------------------------------------------------------------


@pytest.mark.openai_compat
def test_the_reference_solution_passes_every_check(grade: Grade) -> None:
    report = grade(REPO / "solution", ())
    assert report.passed, show(report)
    assert {r.id for r in report.results} >= set(ALL_CHECKS)
    assert report.score == report.max_score > 0


def test_the_exercise_stub_fails_with_its_todo_pointer_not_a_traceback(grade: Grade) -> None:
    report = grade(REPO / "exercise", ())
    for check in ("count_tokens", "trim_function"):
        (failure,) = failed(report, check)
        assert "raised NotImplementedError: TODO: implement" in failure.message
        assert "exercise/README.md" in failure.message
        assert "This is still a TODO" in failure.help and "exercise/README.md" in failure.help
        assert "Traceback" not in failure.message
    loads = [r for r in report.results if r.id == "loads"]
    assert loads and all(r.passed for r in loads)
    assert not report.passed


@pytest.mark.parametrize("name", ["hangs_at_eof", "busy_after_first"])
def test_a_hang_shows_the_students_own_stack(name: str, grade: Grade) -> None:
    """Stuck at the end of input or in a loop, the report shows where: the student's frame,
    named as the student knows the file (a REPL spinning at the end of input used to flood
    the grader with end-of-input marks, and its stack never came)."""
    report = grade(CORPUS / name, EXPECTED[name].cases)
    (failure,) = failed(report, "repl_exits")
    assert failure.where is not None and failure.where.startswith("chat_repl.py, line "), show(
        report
    )
