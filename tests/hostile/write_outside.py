"""Writes inside its working copy (allowed) and tries to write outside it every way it knows.

TARGETS is set by the test: paths outside the working copy that must not appear.
"""

import os
import shutil
import sqlite3
from pathlib import Path

from _base import count_tokens, repl, trim_history  # noqa: F401

TARGETS = None


def write(path: str) -> None:
    with open(path, "w") as f:
        f.write("x")


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    Path("notes.txt").write_text("inside my own copy: fine\n")
    results = {}
    for target in TARGETS or []:
        for how, action in (
            ("open", lambda t=target: write(t)),
            ("os.open", lambda t=target: os.close(os.open(t, os.O_WRONLY | os.O_CREAT))),
            ("mkdir", lambda t=target: os.mkdir(t)),
            ("copy", lambda t=target: shutil.copyfile("notes.txt", t)),
            ("symlink", lambda t=target: os.symlink(t, "link") or write("link")),
            ("sqlite", lambda t=target: sqlite3.connect(t).execute("create table t (x)")),
        ):
            try:
                action()
                results[f"{how} {target}"] = "WRITTEN"
            except BaseException as exc:
                results[f"{how} {target}"] = f"{type(exc).__name__}: {exc}"
    print(results)
    raise PermissionError(f"could not write outside: {results}")
