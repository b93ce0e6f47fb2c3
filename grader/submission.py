"""What a submission is: plain files, within the caps, copied once into the grader's own space.

Every case then runs in a fresh copy of that staged copy, never of the student's folder: what
the checks judged is what was checked here, even if the folder changes while grading. A file
is opened without following links and measured from the open descriptor, so no link, device
or swapped-in file gets past the checks.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from grader.i18n import _

ENTRY = "chat_repl.py"
SKIPPED = {".git", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache", ".pytest_cache"}
MAX_FILE = 2 * 1024 * 1024
MAX_TOTAL = 20 * 1024 * 1024
MAX_FILES = 500


class SubmissionError(ValueError):
    """A submission the grader will not run, and why, in words that say what to change."""


@dataclass(frozen=True)
class Submission:
    original: Path  # the student's folder, as named in reports
    staged: Path  # the grader's checked copy
    file: str  # the entry point's name inside both


def locate(path: Path) -> tuple[Path, str]:
    """A submission is a directory holding chat_repl.py, or a .py file itself."""
    path = path.expanduser()
    if path.is_dir():
        folder, name = path, ENTRY
        if not (folder / name).exists() and not (folder / name).is_symlink():
            readable = os.access(folder, os.R_OK)
            found = sorted(p.name for p in folder.iterdir())[:8] if readable else []
            listing = ", ".join(found) if found else _("nothing")
            raise SubmissionError(
                _("{folder}: no {entry} here (found: {listing})").format(
                    folder=folder, entry=ENTRY, listing=listing
                )
            )
        return folder.resolve(), name
    if path.is_symlink() or path.exists():
        return path.parent.resolve(), path.name
    raise SubmissionError(
        _("{path}: no such file (a submission is a directory holding {entry})").format(
            path=path, entry=ENTRY
        )
    )


def stage(path: Path, target: Path) -> Submission:
    """Check the submission and copy it to ``target``; SubmissionError names what is wrong."""
    folder, name = locate(path)
    target.mkdir(parents=True, mode=0o700)  # the grader's alone: no case's child reads it
    total = files = 0
    for current, dirs, names in os.walk(folder):
        relative = Path(current).relative_to(folder)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        for directory in dirs:
            if (Path(current) / directory).is_symlink():
                raise SubmissionError(linked(relative / directory, Path(current) / directory))
        for entry in sorted(names):
            shown = relative / entry
            total += copy_file(Path(current) / entry, target / shown, shown)
            files += 1
            if files > MAX_FILES:
                raise SubmissionError(
                    _("more than {n} files; submit the REPL's own files").format(n=MAX_FILES)
                )
            if total > MAX_TOTAL:
                raise SubmissionError(
                    _(
                        "the submission's files come to more than {size} (at {file}); at most "
                        "{size} in all, virtual environments and dot-folders not counted"
                    ).format(size=megabytes(MAX_TOTAL), file=shown)
                )
    if not (target / name).is_file():
        raise SubmissionError(
            _("{file}: not a plain file inside the submission").format(file=folder / name)
        )
    return Submission(folder, target, name)


def copy_file(source: Path, target: Path, shown: Path) -> int:
    """One regular file, read through a descriptor opened without following links."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if source.is_symlink():
            raise SubmissionError(linked(shown, source)) from None
        raise SubmissionError(
            _("{file} cannot be read: {error}").format(file=shown, error=exc.strerror)
        ) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(
                _("{file} is not a regular file; submit plain files only").format(file=shown)
            )
        if info.st_size > MAX_FILE:
            raise SubmissionError(
                _("{file} is {size}; each file may be at most {most}").format(
                    file=shown, size=megabytes(info.st_size), most=megabytes(MAX_FILE)
                )
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:
            copied = 0
            while chunk := f.read(1 << 16):
                copied += len(chunk)
                if copied > MAX_FILE:  # it grew while being read
                    raise SubmissionError(
                        _("{file} is over {most}").format(file=shown, most=megabytes(MAX_FILE))
                    )
                out.write(chunk)
    return copied


def linked(shown: Path, path: Path) -> str:
    try:
        target = os.readlink(path)
    except OSError:
        return _("{file} is a symbolic link: submit the file itself").format(file=shown)
    return _("{file} is a symbolic link to {target}: submit the file itself").format(
        file=shown, target=target
    )


def megabytes(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:.0f} MB" if mb.is_integer() else f"{mb:.1f} MB"


def copy_staged(submission: Submission, workdir: Path) -> None:
    """A fresh working copy for one case, from the checked one."""
    shutil.copytree(submission.staged, workdir, symlinks=True)
