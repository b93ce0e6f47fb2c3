"""Chat REPL reading lines from stdin (blank lines are skipped)."""

import sys

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
PINNED = ("system", "developer")


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            value = [part.get("text", "") for part in value] if isinstance(value, list) else [value]
            total += sum(len(enc.encode(v, disallowed_special=())) for v in value)
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    kept = list(messages)
    while count_tokens(kept, model) > max_input_tokens:
        others = [i for i, m in enumerate(kept) if m["role"] not in PINNED]
        if len(others) <= 1:
            raise ValueError("message is longer than the budget")
        del kept[others[0]]
    return kept


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        line = sys.stdin.readline().strip()
        if not line:
            continue  # ignore empty lines
        if line == "/quit":
            break
        history.append({"role": "user", "content": line})
        try:
            history = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        response = client.chat.completions.create(model=model, messages=history)
        answer = response.choices[0].message.content
        print(answer)
        history.append({"role": "assistant", "content": answer})


if __name__ == "__main__":
    main()
