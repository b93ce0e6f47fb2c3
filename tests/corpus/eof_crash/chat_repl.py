"""Lesson 03 - chat REPL with a token budget. Type /quit to leave."""

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
            if isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            elif isinstance(value, list):
                for part in value:
                    total += len(enc.encode(part.get("text", ""), disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    pinned = [m for m in messages if m["role"] in PINNED]
    rest = [m for m in messages if m["role"] not in PINNED]
    while rest and count_tokens(pinned + rest, model) > max_input_tokens:
        rest = rest[1:]
    if not rest and messages[-1]["role"] not in PINNED:
        raise ValueError("too long to send")
    keep = {id(m) for m in pinned + rest}
    return [m for m in messages if id(m) in keep]


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        line = input("you> ")
        if line.strip() == "/quit":
            break
        if not line.strip():
            continue
        user = {"role": "user", "content": line}
        try:
            messages = trim_history([*history, user], max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            continue
        result = client.chat.completions.create(model=model, messages=messages)
        reply = result.choices[0].message.content
        print(reply)
        history += [user, {"role": "assistant", "content": reply}]


if __name__ == "__main__":
    main()
