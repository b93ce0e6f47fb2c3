"""A small, correct chat REPL that the hostile submissions build on, so that each of them
misbehaves in one way only and every other check it meets passes."""

from __future__ import annotations

from typing import Any

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
PINNED = ("system", "developer")
Message = dict[str, Any]


def encoding(model: str) -> tiktoken.Encoding:
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base")


def message_tokens(message: Message, model: str) -> int:
    total = 3
    for key, value in message.items():
        texts = value if key == "content" and isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, dict):
                text = text.get("text")
            if isinstance(text, str):
                total += len(encoding(model).encode(text, disallowed_special=()))
        if key == "name":
            total += 1
    return total


def count_tokens(messages: list[Message], model: str = MODEL) -> int:
    return 3 + sum(message_tokens(m, model) for m in messages)


def trim_history(
    messages: list[Message], max_input_tokens: int = 8000, model: str = MODEL
) -> list[Message]:
    pinned = [i for i, m in enumerate(messages) if m.get("role") in PINNED]
    room = max_input_tokens - 3 - sum(message_tokens(messages[i], model) for i in pinned)
    cut, used, newest = len(messages), 0, None
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") in PINNED:
            continue
        cost = message_tokens(messages[i], model)
        newest = cost if newest is None else newest
        if used + cost > room:
            break
        used, cut = used + cost, i
    if room < 0 or (newest is not None and cut == len(messages)):
        raise ValueError("the system messages and the newest message exceed the budget")
    return [m for i, m in enumerate(messages) if i >= cut or i in pinned]


def repl(system_prompt: str, model: str, max_input_tokens: int, lines: int = 10_000) -> None:
    """Chat on stdin until its end, or until ``lines`` lines have been sent."""
    client = OpenAI()
    history: list[Message] = [{"role": "system", "content": system_prompt}]
    for _ in range(lines):
        try:
            line = input()
        except EOFError:
            return
        candidate = [*history, {"role": "user", "content": line}]
        try:
            messages = trim_history(candidate, max_input_tokens, model)
        except ValueError as exc:
            print(f"error: {exc}")
            continue
        completion = client.chat.completions.create(model=model, messages=messages)
        reply = completion.choices[0].message.content or ""
        print(reply)
        history = [*messages, {"role": "assistant", "content": reply}]
