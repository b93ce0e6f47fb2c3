"""Judging the gate: does the submission load and define the contract's three functions?"""

from __future__ import annotations

import re

from grader.cases.script import Script
from grader.checks import Failure, check
from grader.i18n import N_, _
from grader.run import CaseRun


@check(
    kind="any",
    description=N_("chat_repl.py imports and defines count_tokens, trim_history and main"),
    doc=N_(
        "`chat_repl.py` imports and defines `count_tokens`, `trim_history`, `main` (worth no "
        "points: the gate for the rest)"
    ),
    depends=(),
    blocks=N_("chat_repl.py did not load"),
    scored=False,
)
def loads(script: Script, run: CaseRun) -> None:
    if run.loaded:
        return
    if run.load_error:
        missing = re.match(r"(\S+) does not define (.+)", run.load_error)
        raised = re.match(r"importing (\S+) raised (.*)", run.load_error, re.S)
        if missing:
            text = _("{file} does not define {names}").format(file=missing[1], names=missing[2])
        elif raised:
            text = _("importing {file} raised {error}").format(file=raised[1], error=raised[2])
        else:
            text = run.load_error
        if missing:
            help = _(
                "chat_repl.py must define count_tokens(messages, model), trim_history(messages, "
                "max_input_tokens, model) and main(system_prompt, model, max_input_tokens); "
                "see exercise/README.md."
            )
        elif raised and raised[2].startswith(("SyntaxError", "IndentationError", "TabError")):
            help = _(
                "Python cannot read the file: fix the line shown. `python -m py_compile "
                "chat_repl.py` shows the same error."
            )
        else:
            help = _(
                'Importing the file must not fail: run `python -c "import chat_repl"` '
                "yourself to see the error."
            )
        raise Failure(text, help, family="load")
    if run.outcome.kind == "timeout":
        raise Failure(
            _("importing chat_repl.py {how}").format(how=run.outcome.message),
            _(
                "Code at the top level of the file runs on import; start the REPL only under "
                '`if __name__ == "__main__":`.'
            ),
            family="load",
        )
    raise Failure(
        _("chat_repl.py could not be loaded: {how}").format(
            how=run.outcome.message or run.outcome.kind
        ),
        family="load",
    )
