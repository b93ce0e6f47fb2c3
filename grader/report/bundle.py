"""``grade --gradescope-bundle FILE.zip``: the autograder an instructor uploads to Gradescope.

The zip holds Gradescope's two scripts (grader/report/platforms/setup.sh and run_autograder), the
cases, and trimlab's own source with a pyproject.toml made for it, so that the image installs
exactly the grader that made the bundle. The cases are checked first: a bundle that cannot
grade is refused here, not discovered by the first student.

Layout::

    setup.sh  run_autograder  README.md  cases/*.toml  trimlab/{pyproject.toml, grader/, ...}
"""

from __future__ import annotations

import importlib.metadata
import os
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.cases import Case, load_cases
from grader.grading import make_scripts
from grader.sandbox.runner import package_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLATFORMS = Path(__file__).resolve().parent / "platforms"
TEMPLATES = {"setup.sh": 0o755, "run_autograder": 0o755, "README.md": 0o644}
PACKAGES = ("grader", "mock_api", "solution")
SKIPPED = ("__pycache__", ".pyc", ".pyo", ".DS_Store")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # the same inputs make the same bytes


class BundleError(Exception):
    """The bundle cannot be made; the message says why."""


def build_bundle(target: Path, cases_dir: Path) -> list[Case]:
    """Write the bundle to ``target``; return the cases it holds.

    Raises CaseError or CaseErrors for cases that cannot be used, BundleError for the rest.
    """
    cases = load_cases(cases_dir)
    make_scripts(cases)  # a case can be valid alone and still make no usable script
    if target.is_dir():
        raise BundleError(f"{target} is a directory; name the zip file to write")
    if not target.parent.is_dir():
        raise BundleError(f"{target.parent}: no such directory")
    files: dict[str, tuple[bytes, int]] = {}
    for name, mode in TEMPLATES.items():
        try:
            files[name] = ((PLATFORMS / name).read_bytes(), mode)
        except OSError as exc:
            raise BundleError(f"trimlab's Gradescope template is missing: {exc}") from None
    for case in cases:
        files[f"cases/{case.path.name}"] = (case.path.read_bytes(), 0o644)
    packages: list[str] = []
    data: dict[str, list[str]] = {}
    root = Path(package_root())
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or any(part.endswith(SKIPPED) for part in relative.parts):
                continue
            files[f"trimlab/{relative.as_posix()}"] = (path.read_bytes(), 0o644)
            if path.name == "__init__.py":
                packages.append(".".join(relative.parent.parts))
            elif path.suffix != ".py":
                owner = owning_package(path, root)
                data.setdefault(owner, []).append(
                    path.relative_to(root / owner.replace(".", "/")).as_posix()
                )
    files["trimlab/pyproject.toml"] = (pyproject(sorted(packages), data).encode(), 0o644)
    files["trimlab/README.md"] = (b"trimlab, bundled by grade --gradescope-bundle.\n", 0o644)
    write_zip(target, files)
    return cases


def owning_package(path: Path, root: Path) -> str:
    """The nearest folder above ``path`` with an __init__.py, as a dotted name."""
    folder = path.parent
    while not (folder / "__init__.py").is_file() and folder != root:
        folder = folder.parent
    return ".".join(folder.relative_to(root).parts)


def pyproject(packages: list[str], data: dict[str, list[str]]) -> str:
    """A pyproject.toml for the bundled source: this trimlab's version and requirements."""
    version, requirements = installed_metadata()
    lines = [
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        'name = "trimlab"',
        f'version = "{version}"',
        'requires-python = ">=3.10"',
        "dependencies = [" + ", ".join(toml_string(r) for r in requirements) + "]",
        "",
        "[project.scripts]",
        'grade = "grader.cli:grade"',
        'mock-openai = "mock_api.cli:main"',
        "",
        "[tool.setuptools]",
        "packages = [" + ", ".join(toml_string(p) for p in packages) + "]",
        "",
        "[tool.setuptools.package-data]",
    ]
    for package, names in sorted(data.items()):
        lines.append(f"{toml_string(package)} = [" + ", ".join(map(toml_string, names)) + "]")
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def installed_metadata() -> tuple[str, list[str]]:
    """trimlab's version and run-time requirements, from its installed metadata or, in a
    checkout that was never installed, from its pyproject.toml."""
    try:
        version = importlib.metadata.version("trimlab")
        requirements = importlib.metadata.requires("trimlab") or []
    except importlib.metadata.PackageNotFoundError:
        source = Path(package_root()) / "pyproject.toml"
        try:
            project = tomllib.loads(source.read_text(encoding="utf-8"))["project"]
        except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
            raise BundleError(f"cannot tell which trimlab this is: {exc}") from None
        version, requirements = project["version"], project.get("dependencies", [])
    return version, [r for r in requirements if "extra ==" not in r]


def write_zip(target: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """All or nothing: the zip appears complete under its name, or not at all."""
    fd, temporary = tempfile.mkstemp(prefix=".bundle-", suffix=".zip", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(files):
                content, mode = files[name]
                info = zipfile.ZipInfo(name, ZIP_TIME)
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
