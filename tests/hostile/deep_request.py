"""Sends one request whose JSON body is nested 100,000 deep (a parser that recurses fails on
it), then chats honestly. The API answers such a body with a 400; nothing else may change."""

import time

import httpx
from _base import count_tokens as honest_count
from _base import repl, trim_history  # noqa: F401

DEPTH = 100_000


def count_tokens(messages: list, model: str = "gpt-5.4") -> int:
    """Right, and slow enough that the functions case is still running beside the chat."""
    time.sleep(0.1)
    return honest_count(messages, model)


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    body = b'{"model": "gpt-5.4", "messages": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"
    response = httpx.post(
        "https://api.openai.com/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json", "authorization": "Bearer sk-x"},
    )
    print(f"deep request: {response.status_code}")
    repl(system_prompt, model, max_input_tokens)
