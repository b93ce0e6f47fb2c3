"""Passes its input lines from one case to another through a place on the machine's disk:
it reads all its lines, writes them under /tmp, /dev/shm and /var/tmp (after undoing the
audit hook), then, for up to two seconds, collects whatever another case of its own dropped
there. A hidden case's lines would then reach a visible case. It ends by raising what it
found: the error is what a visible test's result shows.

TAG is set by the test (a name no other run uses); the test removes what is left.
"""

import contextlib
import os
import sys
import time

from _base import count_tokens, repl, trim_history  # noqa: F401
from _unhook import unhook

TAG = None
PLACES = ("/tmp", "/dev/shm", "/var/tmp")
WAIT = 2.0


def drop(own: str, lines: str) -> None:
    for place in PLACES:
        try:
            with open(f"{place}/{own}", "w") as f:
                f.write(lines)
            os.chmod(f"{place}/{own}", 0o666)
            print(f"DROPPED in {place}")
        except BaseException as exc:
            print(f"cannot drop in {place}: {type(exc).__name__}")


def collect(own: str) -> list[str]:
    found, seen = [], set()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:  # bounded: two seconds at most
        for place in PLACES:
            try:
                names = os.listdir(place)
            except BaseException:
                continue
            for name in names:
                path = f"{place}/{name}"
                if not name.startswith(TAG) or name == own or path in seen:
                    continue
                seen.add(path)
                try:
                    with open(path) as f:
                        found.append(f.read(500))
                    print(f"FOUND {path}")
                except BaseException as exc:
                    print(f"cannot read {path}: {type(exc).__name__}")
        time.sleep(0.1)
    return found


def main(system_prompt="", model="gpt-5.4", max_input_tokens=8000):
    print(unhook())
    own = f"{TAG}-{os.getpid()}-{time.monotonic_ns()}"
    drop(own, sys.stdin.read())
    found = collect(own)
    for place in PLACES:  # its own drop goes, whatever happened
        with contextlib.suppress(BaseException):
            os.remove(f"{place}/{own}")
    raise RuntimeError(f"found {len(found)} drops: {' | '.join(found)[:1500]!r}")
