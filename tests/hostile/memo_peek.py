"""Looks for other cases' lines in tiktoken's remembered encodings: the grader wraps
``Encoding.encode`` in each case's child, and a memory of texts shared between cases would
carry a hidden case's lines to a visible one. It reads the wrapper's memory through the
function's closure, before its own chat and after, and raises what it saw: the error is what
a visible test's result shows."""

import tiktoken
from _base import count_tokens, repl, trim_history  # noqa: F401


def remembered() -> list[str]:
    """Every text in the wrapper's memory, if ``encode`` is a wrapper with one: the strings in
    the keys of every dict its closure reaches, however the memory nests them."""
    texts: list[str] = []
    seen: set[int] = set()

    def walk(value: object, depth: int = 0) -> None:
        if depth > 4 or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, tuple):
                    texts.extend(part for part in key if isinstance(part, str))
                walk(item, depth + 1)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item, depth + 1)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            walk(vars(value), depth + 1)

    for cell in getattr(tiktoken.Encoding.encode, "__closure__", None) or ():
        walk(cell.cell_contents)
    return texts


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    wrapped = hasattr(tiktoken.Encoding.encode, "__wrapped__")
    before = remembered()
    repl(system_prompt, model, max_input_tokens)
    after = remembered()
    raise RuntimeError(f"wrapped={wrapped} before={before!r} after={after!r}")
