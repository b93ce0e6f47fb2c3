"""Grows the grader's memory with what it keeps of each request: bodies of 12 MB, each a list
of four million empty objects, which a JSON parser turns into some 300 MB of Python objects.
The mock refuses each one (no 'messages'); it is the journal that keeps them."""

import time

import httpx
from _base import count_tokens, repl, trim_history  # noqa: F401

OBJECTS = 3_900_000
REQUESTS = 12


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    body = b'{"model": "gpt-5.4", "junk": [' + b"{}," * OBJECTS + b"{}]}"
    started, answers = time.monotonic(), []
    for _ in range(REQUESTS):
        if time.monotonic() - started > 20:
            break
        response = httpx.post(
            "https://api.openai.com/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json", "authorization": "Bearer sk-x"},
        )
        answers.append(response.status_code)
    print(f"answers: {answers}")
    repl(system_prompt, model, max_input_tokens)
