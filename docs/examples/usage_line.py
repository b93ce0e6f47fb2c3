"""An instructor's check, added with ``grade --checks docs/examples/usage_line.py``: after each
reply, the REPL prints a usage line such as ``7,912 / 8,000 input tokens, 4 messages dropped``."""

from __future__ import annotations

import re

from grader.checks import Failure, check
from grader.checks.conversation import all_turns
from grader.run import CaseRun

USAGE = re.compile(r"[\d,]+ / [\d,]+ input tokens")


@check(
    kind="conversation",
    description="the REPL prints a usage line after each reply",
    depends=("loads", "requests_sent"),
)
def usage_line(script: object, run: CaseRun) -> str:
    script, requests = all_turns(script, run)  # each request, with the line it answers
    for request in requests:
        line = request.line
        printed = run.turns[line] if line < len(run.turns) else ""  # its output for that line
        if not USAGE.search(printed):
            raise Failure(
                f"after the reply to line {line + 1} it printed no usage line",
                "Print a line such as '7,912 / 8,000 input tokens, 4 messages dropped' after "
                "each reply.",
                actual=printed.strip()[-300:] or "(nothing)",
            )
    return f"a usage line after each of the {len(requests)} replies"
