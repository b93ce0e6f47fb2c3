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


@dataclass
class Outcome:
    """How the submission's run of a case ended."""

    # returned, raised, exit, bad_signature (as the child reports); timeout, vanished, load_failed,
    # crashed, flood (as the grader finds)
    kind: str
    message: str = ""
    error: dict[str, Any] | None = None


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
    seconds: float = 0.0


def load_error(message: dict[str, Any], file: Path) -> str | None:
    if message.get("ok"):
        return None
    if message.get("missing"):
        names = ", ".join(f"{m}()" for m in message["missing"])
        return f"{file.name} does not define {names}"
    error = message.get("error") or {}
    detail = error.get("traceback", "").strip()
    text = f"importing {file.name} raised {error.get('type')}: {error.get('message')}"
    return f"{text}\n{detail}" if detail else text
