"""Chat REPL. Every message uses the content-parts format from the docs (ready for images later)."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
PINNED = ("system", "developer")


def msg(role, text):
    return {"role": role, "content": [{"type": "text", "text": text}]}


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if isinstance(value, list):
                for part in value:
                    if part.get("type") == "text":
                        total += len(enc.encode(part["text"], disallowed_special=()))
            elif isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    left = max_input_tokens - count_tokens([m for m in messages if m["role"] in PINNED], model)
    keep = set()
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] in PINNED:
            continue
        left -= count_tokens([messages[i]], model) - 3
        if left < 0:
            break
        keep.add(i)
    if len(messages) - 1 not in keep and messages[-1]["role"] not in PINNED:
        raise ValueError("that message is longer than the whole budget")
    return [m for i, m in enumerate(messages) if i in keep or m["role"] in PINNED]


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [msg("system", system_prompt)]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if line.strip() == "/quit":
            break
        if not line.strip():
            continue
        try:
            messages = trim_history([*history, msg("user", line)], max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            continue
        response = client.chat.completions.create(model=model, messages=messages)
        answer = response.choices[0].message.content or ""
        print(answer)
        history += [msg("user", line), msg("assistant", answer)]


if __name__ == "__main__":
    main()
