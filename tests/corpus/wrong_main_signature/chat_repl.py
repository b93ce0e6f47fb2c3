"""Chat REPL with a token budget: python chat_repl.py [budget]"""

import sys

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
PINNED = ("system", "developer")


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            parts = [p.get("text", "") for p in value] if isinstance(value, list) else [value]
            total += sum(len(enc.encode(p, disallowed_special=())) for p in parts)
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=8000, model=MODEL):
    kept = list(messages)
    while count_tokens(kept, model) > max_input_tokens:
        others = [i for i, m in enumerate(kept) if m["role"] not in PINNED]
        if len(others) <= 1:
            raise ValueError("message too long")
        del kept[others[0]]
    return kept


def main(budget=8000, model=MODEL):
    client = OpenAI()
    history = [{"role": "system", "content": "You are a helpful assistant."}]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if not line.strip():
            continue
        try:
            messages = trim_history([*history, {"role": "user", "content": line}], budget, model)
        except ValueError as e:
            print("error:", e)
            continue
        reply = client.chat.completions.create(model=model, messages=messages)
        reply = reply.choices[0].message.content
        print(reply)
        history = [*messages, {"role": "assistant", "content": reply}]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
