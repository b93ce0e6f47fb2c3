"""Lesson 03 exercise: a chat REPL that keeps every request under an input-token budget.

The API is stateless, so main() below resends the whole conversation every turn. Your job is
the two functions it calls: count_tokens (Step 1) and trim_history (Step 2). exercise/README.md
explains both; `grade exercise/` checks them.
"""

from __future__ import annotations

from typing import Any

import tiktoken
from openai import OpenAI, OpenAIError

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."

Message = dict[str, Any]


def encoding_for(model: str) -> tiktoken.Encoding:
    """tiktoken's encoding for the model; names tiktoken does not know yet get o200k_base."""
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base")


def count_tokens(messages: list[Message], model: str = MODEL) -> int:
    """The input tokens of a request with these messages.

    3 per message, plus the tokens of every string value in it (role and content; content may
    be a list of {"type": "text", "text": ...} parts), plus 1 per `name`, plus 3 for the reply.
    Count `<|endoftext|>` as ordinary text: encode(text, disallowed_special=()).
    """
    raise NotImplementedError("TODO: implement count_tokens — see exercise/README.md, 'Step 1'")


def trim_history(
    messages: list[Message], max_input_tokens: int = MAX_INPUT_TOKENS, model: str = MODEL
) -> list[Message]:
    """The messages to send, so that count_tokens(result) <= max_input_tokens.

    Keep every system/developer message where it stands; of the others keep the newest that
    fit, dropping the oldest first. Don't change `messages`. Raise ValueError if even the
    system messages and the newest message do not fit.
    """
    raise NotImplementedError("TODO: implement trim_history — see exercise/README.md, 'Step 2'")


def main(
    system_prompt: str = SYSTEM_PROMPT, model: str = MODEL, max_input_tokens: int = MAX_INPUT_TOKENS
) -> None:
    """Chat until end of input (Ctrl-D) or /quit. Already written: it calls your functions."""
    client = OpenAI()  # reads OPENAI_API_KEY (and OPENAI_BASE_URL) from the environment
    history: list[Message] = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if line.strip() == "/quit":
            break
        if not line.strip():
            continue
        # The API remembers nothing: each request carries the (trimmed) conversation so far.
        candidate = [*history, {"role": "user", "content": line}]
        try:
            messages = trim_history(candidate, max_input_tokens, model)
        except ValueError as exc:
            print(f"error: that line is too long to send ({exc})")
            continue  # the line is not kept
        try:
            completion = client.chat.completions.create(model=model, messages=messages)
        except OpenAIError as exc:
            print(f"error: {exc}")
            continue
        reply = completion.choices[0].message.content or ""
        print(reply)
        print(f"  ({count_tokens(messages, model)} / {max_input_tokens} input tokens)")
        history = [*candidate, {"role": "assistant", "content": reply}]


if __name__ == "__main__":
    try:
        main()
    except NotImplementedError as exc:
        raise SystemExit(str(exc)) from None
