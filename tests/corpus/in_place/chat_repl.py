"""Chat REPL whose history never grows past the budget: dropped messages are gone for good."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
PINNED = ("system", "developer")

_enc = {}


def encoding(model):
    if model not in _enc:
        try:
            _enc[model] = tiktoken.encoding_for_model(model)
        except KeyError:
            _enc[model] = tiktoken.get_encoding("o200k_base")
    return _enc[model]


def count_tokens(messages, model=MODEL):
    enc = encoding(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            elif isinstance(value, list):
                total += sum(
                    len(enc.encode(p["text"], disallowed_special=()))
                    for p in value
                    if isinstance(p.get("text"), str)
                )
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    """A new list; `messages` itself is left alone."""
    room = max_input_tokens - count_tokens([m for m in messages if m["role"] in PINNED], model)
    first = len(messages)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] in PINNED:
            continue
        room -= count_tokens([messages[i]], model) - 3
        if room < 0:
            break
        first = i
    if first == len(messages) and messages[-1]["role"] not in PINNED:
        raise ValueError("the newest message is over the budget by itself")
    return [m for i, m in enumerate(messages) if i >= first or m["role"] in PINNED]


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if line.strip() == "/quit":
            break
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        try:
            history[:] = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        reply = client.chat.completions.create(model=model, messages=history)
        reply = reply.choices[0].message.content or ""
        print(reply)
        history.append({"role": "assistant", "content": reply})
        print(f"  [{count_tokens(history, model)} tokens in {len(history)} messages]")


if __name__ == "__main__":
    main()
