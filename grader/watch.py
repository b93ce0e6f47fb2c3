"""`grade --watch`: when is a submission worth grading again. The loop itself is in cli.py.

A save that leaves the content as it was (an editor's touch, a formatter with nothing to do)
is not a change: the submission is fingerprinted over the files staging would copy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterator
from pathlib import Path

import watchfiles

from grader.submission import MAX_FILE, SKIPPED, SubmissionError, locate

DEBOUNCE_MS = 300  # an editor's save is a burst of events: wait this long for it to end
WAKE_MS = 500  # how long the first wait for a save lasts: the watcher is running after it


def submission_folder(path: Path) -> Path:
    """The folder whose files make the submission: staging copies the whole of it."""
    try:
        return locate(path)[0]
    except SubmissionError:  # no chat_repl.py yet: watch the folder all the same
        path = path.expanduser().resolve()
        return path if path.is_dir() else path.parent


def fingerprint(folder: Path, ignore: Collection[Path] = ()) -> str:
    """A hash of the names and contents of the files staging would look at (see
    grader/submission.py); ``ignore``: files the grader itself writes there, such as its
    report. A link, or a file too large to be graded, counts by its target or its size."""
    skipped = {p.resolve() for p in ignore}
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        for name in sorted(files):
            path = Path(current) / name
            if path.resolve() in skipped:
                continue
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            try:
                if path.is_symlink():
                    digest.update(b"link " + os.readlink(path).encode())
                elif (size := path.stat().st_size) > MAX_FILE:
                    digest.update(f"too large {size}".encode())
                else:
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError as exc:
                digest.update(f"unreadable {exc.errno}".encode())
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
