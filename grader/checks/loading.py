"""Does the submission load and define the contract's three functions?"""

from __future__ import annotations

from grader.cases.script import Script
from grader.checks import Failure, check
from grader.run import CaseRun

CONTRACT_HELP = (
    "chat_repl.py must define count_tokens(messages, model), trim_history(messages, "
    "max_input_tokens, model) and main(system_prompt, model, max_input_tokens); "
    "see exercise/README.md."
)


@check("loads", "chat_repl.py imports and defines count_tokens, trim_history and main", "any", ())
def loads(script: Script, run: CaseRun) -> None:
    if run.loaded:
        return
    if run.load_error:
        help = (
            CONTRACT_HELP
            if "does not define" in run.load_error
            else (
                "Run `python chat_repl.py` yourself: importing the file must not fail or wait "
                "for input."
            )
        )
        raise Failure(run.load_error, help)
    if run.outcome.kind == "timeout":
        raise Failure(
            f"importing chat_repl.py {run.outcome.message}",
            "Code at the top level of the file runs on import; start the REPL only under "
            '`if __name__ == "__main__":`.',
        )
    raise Failure(f"chat_repl.py could not be loaded: {run.outcome.message or run.outcome.kind}")
