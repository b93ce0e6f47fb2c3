"""Looks for the other cases' input in its own memory, a copy of the worker's made by fork:
the worker's pending messages (through frames: the worker's channel buffer) and everything in
/proc/self/mem, with no ctypes and no import of the grader. Whatever it finds it puts in its
error message, which a visible test shows; it chats honestly otherwise.

It knows nothing of the cases: it looks for the grader's case messages ("lines": [...]).
"""

import json
import os
import re
import sys

from _base import count_tokens, repl, trim_history  # noqa: F401

LINES = re.compile(rb'"lines": (\[(?:"(?:[^"\\]|\\.)*"(?:, )?){1,50}\])')
MAX_REGION = 256 * 1024 * 1024


def pending_messages() -> list[bytes]:
    """What the worker had read from the grader, but not yet handled, when it forked us."""
    found = []
    frame = sys._getframe()
    while frame is not None:
        channel = frame.f_locals.get("grader")
        buffer = getattr(channel, "_buffer", None)
        if isinstance(buffer, (bytes, bytearray)):
            found.append(bytes(buffer))
        frame = frame.f_back
    return found


def memory() -> list[bytes]:
    """Every readable region of this process, as /proc/self/mem gives it."""
    regions = []
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            span, permissions = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            if "r" not in permissions or end - start > MAX_REGION:
                continue
            try:
                mem.seek(start)
                regions.append(mem.read(end - start))
            except (OSError, OverflowError):
                continue
    return regions


def other_lines(own: set[str]) -> list[str]:
    found: dict[str, None] = {}
    for source in (pending_messages, memory):
        try:
            blobs = source()
        except Exception:
            continue
        for blob in blobs:
            for match in LINES.finditer(blob):
                try:
                    lines = json.loads(match.group(1))
                except ValueError:
                    continue
                for line in lines:
                    if isinstance(line, str) and line not in own:
                        found[line] = None
    return list(found)


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    own = os.pread(0, 1 << 20, 0).decode("utf-8", "replace").splitlines()  # offset unmoved
    leaked = other_lines(set(own))
    repl(system_prompt, model, max_input_tokens)
    if leaked:
        raise LookupError(f"LEAKED from other cases: {leaked[:20]}")
