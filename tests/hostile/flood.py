"""Sends the same request 1,000 times in a row (the grader stops it much sooner)."""

from _base import count_tokens, trim_history  # noqa: F401
from openai import OpenAI


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    client = OpenAI()
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": "hi"}]
    for _ in range(1000):
        client.chat.completions.create(model=model, messages=messages)
