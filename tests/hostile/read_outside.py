"""Tries to read what is not its own: paths the test names (a marker under /tmp, a --cases
folder's TOML, the grader's /proc entries, other cases' folders, the staged copies of other
submissions), the same through the root's
aliases and through symbolic and hard links made in its own copy, and whatever a bounded walk
of its view finds outside the allow-list; all of it after undoing the audit hook. Everything it
reads it prints after LEAK, with its open descriptors; then it fails.

TARGETS and GRADER_PID are set by the test.
"""

import os
import stat
import sys

from _base import count_tokens, repl, trim_history  # noqa: F401
from _unhook import unhook

TARGETS = None  # files outside its copy that it must not read
GRADER_PID = None  # the grader's pid, as the host sees it
MAX_ENTRIES = 3000
RESULTS = {}


def read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read(300).decode("utf-8", "replace")


def attempt(name: str, path: str) -> None:
    try:
        RESULTS[name] = f"LEAK {read(path)!r}"
    except BaseException as exc:
        RESULTS[name] = f"{type(exc).__name__}: {exc}"


def through_links(path: str) -> None:
    for how, make in (("symlink", os.symlink), ("hardlink", os.link)):
        link = f"{how}-{len(RESULTS)}"
        try:
            make(path, link)
        except BaseException as exc:
            RESULTS[f"{how} {path}"] = f"{type(exc).__name__}: {exc}"
            continue
        attempt(f"{how} {path}", link)


ALLOWED = ("/usr/", "/proc/", "/dev/", "/bin/", "/lib", "/sbin/")  # the view's fixed parts


def walk(budget: list[int]) -> None:
    """Every file in its view that is not in the allow-list (the interpreter, the packages,
    the encodings, its own copy), up to the budget."""
    own = os.getcwd()
    for folder, dirs, files in os.walk("/"):
        here = folder.rstrip("/") + "/"
        if here.startswith(ALLOWED) or here.startswith(own + "/") or "site-packages" in here:
            dirs[:] = []
            continue
        for name in files:
            budget[0] -= 1
            if budget[0] < 0:
                return
            path = os.path.join(folder, name)
            if "/lib/python3" in path or "tiktoken-cache" in path:
                continue
            try:
                RESULTS[f"walk {path}"] = f"LEAK {read(path)[:80]!r}"
            except BaseException as exc:
                RESULTS[f"walk {path}"] = f"{type(exc).__name__}: {exc}"


def descriptors() -> str:
    """Its open descriptors and what each is: a directory or a socket would be a way out."""
    kinds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            mode = os.fstat(int(name)).st_mode
        except OSError:
            continue  # the descriptor listdir itself used
        kind = next((k for k, test in (("directory", stat.S_ISDIR), ("socket", stat.S_ISSOCK),
                                       ("pipe", stat.S_ISFIFO), ("file", stat.S_ISREG))
                     if test(mode)), "other")  # fmt: skip
        kinds[int(name)] = kind
    return str(dict(sorted(kinds.items())))


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    RESULTS["unhook"] = unhook()
    RESULTS["descriptors"] = descriptors()
    root = sys.argv[1] if len(sys.argv) > 1 else "/"
    paths = list(TARGETS or [])
    if GRADER_PID:
        paths += [f"/proc/{GRADER_PID}/cmdline", f"/proc/{GRADER_PID}/environ"]
    own_case = os.path.dirname(os.getcwd())
    sandbox = os.path.dirname(own_case)
    number = int(own_case.rpartition("-")[2] or 0)
    nearby = range(max(number - 3, 1), number + 4)
    paths += [os.path.join(sandbox, f"case-{n}", name) for n in nearby
              for name in ("stdin.txt", "output.txt", "work/chat_repl.py")]  # fmt: skip
    paths += [os.path.join(sandbox, f"submission-{n}", "chat_repl.py") for n in nearby]
    paths += [os.path.join(sandbox, "worker.log"), os.path.join(root, "solution", "chat_repl.py")]
    paths = [p for p in paths if not p.startswith(own_case + "/")]
    for path in paths:
        attempt(path, path)
        for alias in ("/proc/self/root", "/proc/1/root", "/proc/self/cwd/../../../../.."):
            attempt(f"{alias} {path}", alias + path)
        through_links(path)
    try:
        RESULTS["pids"] = sorted(n for n in os.listdir("/proc") if n.isdigit())
    except BaseException as exc:
        RESULTS["pids"] = f"{type(exc).__name__}: {exc}"
    try:
        walk([MAX_ENTRIES])
    except BaseException as exc:
        RESULTS["walk"] = f"{type(exc).__name__}: {exc}"
    for name, result in RESULTS.items():
        print(f"{name}: {result}")
    raise PermissionError(f"read nothing outside: {len(RESULTS)} attempts")
