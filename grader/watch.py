"""`grade --watch`: when is a submission worth grading again. The loop itself is in cli.py.

A save that leaves the content as it was (an editor's touch, a formatter with nothing to do)
is not a change: the submission is fingerprinted over exactly the files the sandbox copies.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterator
from pathlib import Path

import watchfiles

from grader.sandbox.runner import COPY_SKIP, MAX_COPY_FILE, MAX_COPY_TOTAL

DEBOUNCE_MS = 300  # an editor's save is a burst of events: wait this long for it to end
WAKE_MS = 500  # how long the first wait for a save lasts: the watcher is running after it


def submission_folder(path: Path) -> Path:
    """The folder whose files make the submission: the sandbox copies the whole of it."""
    path = path.expanduser().resolve()
    return path.parent if path.is_file() else path


def fingerprint(folder: Path, ignore: Collection[Path] = ()) -> str:
    """A hash of the files the sandbox would copy (see runner.copy_submission), and their
    names; ``ignore``: files the grader itself writes there, such as its report."""
    skipped = {p.resolve() for p in ignore}
    digest = hashlib.sha256()
    total = 0
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in COPY_SKIP and not d.startswith("."))
        for name in sorted(files):
            path = Path(current) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if path.is_symlink() or path.resolve() in skipped:
                continue
            if size > MAX_COPY_FILE or total + size > MAX_COPY_TOTAL:
                continue
            try:
                content = path.read_bytes()
            except OSError:
                continue
            total += size
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def saves(folder: Path, ignore: Collection[Path] = ()) -> Iterator[set[Path]]:
    """The files changed, once per burst of saves, and an empty set every WAKE_MS without one.

    The first (empty) set comes as soon as the watcher runs: from then on every save is seen,
    even one made while a grading runs. Ctrl-C raises KeyboardInterrupt out of it.
    """
    skipped = {str(p.resolve()) for p in ignore}
    default = watchfiles.DefaultFilter()  # no caches, no .git, no editor swap files

    def relevant(change: watchfiles.Change, path: str) -> bool:
        return path not in skipped and default(change, path)

    for changes in watchfiles.watch(
        folder,
        watch_filter=relevant,
        debounce=DEBOUNCE_MS,
        rust_timeout=WAKE_MS,
        yield_on_timeout=True,
    ):
        yield {Path(path) for _, path in changes}
