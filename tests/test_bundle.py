"""The Gradescope bundle, run as Gradescope runs it, and the CI workflow in docs/.

run_autograder runs for real, with AUTOGRADER_ROOT pointing at a temporary folder instead of
/autograder; the venv that setup.sh would make is this one (its ``grade``), importing the
bundle's own copy of trimlab through PYTHONPATH. setup.sh needs the network (pip), so it is
only checked for syntax here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.runner import package_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "hostile" / "cases"
REFERENCE = Path(package_root()) / "solution" / "chat_repl.py"
GRADE = Path(sys.executable).parent / "grade"

pytestmark = [
    pytest.mark.skipif(not GRADE.exists(), reason=f"no grade command at {GRADE}"),
    pytest.mark.xdist_group("bundle"),  # one process makes the bundle for every test
]


def grade(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRADE), *map(str, args)], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the small test cases, the chat case hidden."""
    root = tmp_path_factory.mktemp("bundle")
    shutil.copytree(CASES, root / "cases")
    chat = root / "cases" / "02_chat.toml"
    chat.write_text(chat.read_text().replace("points = 2\n", 'points = 2\nvisibility = "hidden"\n'))
    result = grade("--gradescope-bundle", root / "trimlab.zip", "--cases", root / "cases")
    assert result.returncode == 0, result.stderr
    assert "2 cases (1 hidden)" in result.stdout
    return root / "trimlab.zip"


def autograde(tmp_path: Path, bundle: Path, files: dict[str, str]) -> dict[str, Any]:
    """Unpack the bundle as Gradescope does, put the files in submission/, run it."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text, encoding="utf-8")
    (root / "submission").mkdir(exist_ok=True)
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "bin" / "grade").symlink_to(GRADE)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    env["PYTHONPATH"] = str(root / "source" / "trimlab")
    result = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def assert_valid_results(results: dict[str, Any]) -> None:
    """Gradescope's results.json: a score, and tests with names, scores and visibility."""
    assert isinstance(results["score"], (int, float))
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden")


def test_layout(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    for name in (
        "README.md",
        "cases/01_functions.toml",
        "cases/02_chat.toml",
        "trimlab/pyproject.toml",
        "trimlab/grader/checks/__init__.py",
        "trimlab/grader/report/platforms/run_autograder",
        "trimlab/mock_api/tokens.py",
        "trimlab/solution/chat_repl.py",
    ):
        assert name in modes
    assert not [n for n in modes if "__pycache__" in n or n.endswith(".pyc")]


def test_bundled_source_builds_complete(bundle: Path, tmp_path: Path) -> None:
    """The bundle's pyproject.toml names every package and data file (grader.checks too)."""
    setuptools = pytest.importorskip("setuptools")
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp_path)
    project = tomllib.loads((tmp_path / "trimlab" / "pyproject.toml").read_text())
    assert "grader.checks" in project["tool"]["setuptools"]["packages"]
    assert not [d for d in project["project"]["dependencies"] if "extra" in d]
    out = tmp_path / "built"
    build = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "build_py", "-d", str(out)],
        cwd=tmp_path / "trimlab",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, (setuptools.__version__, build.stderr)
    for name in (
        "grader/checks/functions.py",
        "grader/cases/builtin/01_functions.toml",
        "grader/report/platforms/run_autograder",
        "solution/chat_repl.py",
    ):
        assert (out / name).is_file(), name


def test_correct_submission(bundle: Path, tmp_path: Path) -> None:
    results = autograde(tmp_path, bundle, {"chat_repl.py": REFERENCE.read_text()})
    assert_valid_results(results)
    assert results["score"] == 4
    assert all(t["status"] == "passed" for t in results["tests"])
    visibility = {t["name"].split(":")[0]: t["visibility"] for t in results["tests"]}
    assert visibility == {"functions": "visible", "chat": "hidden"}


def test_wrong_submission_nested_in_a_folder(bundle: Path, tmp_path: Path) -> None:
    wrong = REFERENCE.read_text().replace("return REPLY_PRIMING + sum(", "return sum(")
    results = autograde(tmp_path, bundle, {"my-repo/exercise/chat_repl.py": wrong})
    assert_valid_results(results)
    assert 0 < results["score"] < 4
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert [t["name"].split(" —")[0] for t in failed] == ["functions: count_tokens"]
    assert "expected" in failed[0]["output"]


def test_submission_without_the_file(bundle: Path, tmp_path: Path) -> None:
    results = autograde(tmp_path, bundle, {"notes.txt": "forgot the code"})
    assert results == {
        "score": 0,
        "output": "No chat_repl.py in your submission. "
        "Upload chat_repl.py itself (or a folder holding it).",
        "tests": [],
        "stdout_visibility": "hidden",
    }


def test_bundle_runs_its_own_copy_of_trimlab(bundle: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp_path)
    found = subprocess.run(
        [sys.executable, "-c", "import grader.sandbox.runner as r; print(r.package_root())"],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "trimlab")},
        cwd=tmp_path,  # as for the grade command: the current folder is not on sys.path
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.stdout.strip() == str(tmp_path / "trimlab")


def test_scripts_are_valid_bash(bundle: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp_path)
    for script in ("setup.sh", "run_autograder"):
        check = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True)
        assert check.returncode == 0, check.stderr


def test_broken_cases_make_no_bundle(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "bad.toml").write_text('id = "bad"\nkind = "conversation"\n')
    result = grade("--gradescope-bundle", tmp_path / "b.zip", "--cases", tmp_path / "cases")
    assert result.returncode == 2
    assert "bad.toml" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "cases"]


def test_ci_workflow_grades_and_reports() -> None:
    import yaml  # the test extra has it: CI must not skip this

    workflow = yaml.safe_load((REPO / "docs" / "github-classroom.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    commands = " ".join(step.get("run", "") for step in steps)
    assert "grade" in commands and "--format junit" in commands
    assert True in workflow or "on" in workflow  # YAML 1.1 reads the key on: as True
