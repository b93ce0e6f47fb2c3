"""What the submission did in one case, as the grader saw it: how it ended, what it sent
(the mock's journal), what its functions returned, what it printed.

The checks read only this record and the script; nothing of the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cases.script import Script
from mock_api.core import JournalEntry


@dataclass(frozen=True)
class Raised:
    """An exception of the submission's, as the worker described it."""

    type: str
    message: str
    traceback: str = ""
    bases: tuple[str, ...] = ()
    code: int | None = None  # SystemExit's code

    @classmethod
    def of(cls, error: dict[str, Any] | None) -> Raised | None:
        if not error:
            return None
        return cls(
            str(error.get("type", "?")),
            str(error.get("message", "")),
            str(error.get("traceback", "")),
            tuple(error.get("bases", ())),
            error.get("code"),
        )

    def is_a(self, name: str) -> bool:
        return name == self.type or name in self.bases


@dataclass(frozen=True)
class Call:
    """One call of count_tokens or trim_history on a sample: what it returned or raised, and
    what the caller's list held afterwards."""

    value: Any = None
    raised: Raised | None = None
    unreadable: str | None = None  # a value that is not JSON, described
    argument_after: Any = None

    @classmethod
    def of(cls, message: dict[str, Any]) -> Call:
        after = message.get("argument_after") or {}
        return cls(
            message.get("value"),
            Raised.of(message.get("error")),
            message.get("unreadable"),
            after.get("value") if isinstance(after, dict) else None,
        )


@dataclass
class Outcome:
    """How the submission's run of a case ended."""

    # returned, raised, exit, bad_signature (as the child reports); timeout, stalled, vanished,
    # load_failed, crashed, flood, refused (as the grader finds)
    kind: str
    message: str = ""
    error: dict[str, Any] | None = None
    # On a time-out or a stall: the student's own frames at that moment, outermost first, each
    # "file, line N, in function" and the line of code; "" where none could be taken.
    stack: str = ""

    @property
    def raised(self) -> Raised | None:
        return Raised.of(self.error)


@dataclass
class CaseRun:
    script: Script
    outcome: Outcome
    loaded: bool = False
    load_error: str | None = None
    journal: list[JournalEntry] = field(default_factory=list)
    results: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {"count_tokens": {}, "trim_history": {}}
    )
    output: str = ""
    # What the REPL printed before it read its first line, and for each line it read: turns[i]
    # runs from reading line i to reading line i + 1 (or the end). Empty where the submission
    # read its input some other way than sys.stdin's readline or iteration.
    preamble: str = ""
    turns: list[str] = field(default_factory=list)
    # How many input lines it read, and whether it went on to find the end of input.
    lines_read: int = 0
    read_eof: bool = False
    seconds: float = 0.0

    def calls(self, function: str) -> dict[int, Call]:
        """The typed results of one function, by sample index."""
        return {i: Call.of(m) for i, m in self.results.get(function, {}).items()}


def load_error(message: dict[str, Any], file: Path) -> str | None:
    if message.get("ok"):
        return None
    if message.get("missing"):
        names = ", ".join(f"{m}()" for m in message["missing"])
        return f"{file.name} does not define {names}"
    error = message.get("error") or {}
    text = f"importing {file.name} raised {error.get('type')}: {error.get('message')}"
    lines = error.get("traceback", "").strip().splitlines()
    if lines and lines[-1].startswith(f"{error.get('type')}:"):
        lines.pop()  # Python's own last line says again what the first line of ours says
    detail = "\n".join(lines)
    return f"{text}\n{detail}" if detail else text


def split_turns(output: bytes, marks: list[int]) -> tuple[str, list[str]]:
    """The output cut where each line was read (byte offsets the child reported, clamped: they
    only place text, they decide nothing)."""
    cuts, last = [], 0
    for mark in marks:
        last = min(max(mark, last), len(output))
        cuts.append(last)
    pieces = [output[a:b] for a, b in zip([0, *cuts], [*cuts, len(output)], strict=True)]
    text = [piece.decode("utf-8", errors="replace") for piece in pieces]
    return text[0], text[1:]
