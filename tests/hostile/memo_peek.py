"""Looks for other cases' lines in tiktoken's remembered encodings: the grader wraps
``Encoding.encode`` in each case's child, and a memory of texts shared between cases would
carry a hidden case's lines to a visible one. It reads the wrapper's memory through the
function's closure, before its own chat and after, and raises what it saw: the error is what
a visible test's result shows."""

import tiktoken
from _base import count_tokens, repl, trim_history  # noqa: F401


def remembered() -> list[str]:
    """Every text in the wrapper's memory, if ``encode`` is a wrapper with one."""
    texts = []
    for cell in getattr(tiktoken.Encoding.encode, "__closure__", None) or ():
        contents = cell.cell_contents
        if isinstance(contents, dict):
            texts += [k[2] for k in contents if isinstance(k, tuple) and len(k) > 2]
    return texts


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    wrapped = hasattr(tiktoken.Encoding.encode, "__wrapped__")
    before = remembered()
    repl(system_prompt, model, max_input_tokens)
    after = remembered()
    raise RuntimeError(f"wrapped={wrapped} before={before!r} after={after!r}")
