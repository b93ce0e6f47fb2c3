"""Chat REPL. When a message is too long, trim_history returns no user message at all."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
PINNED = ("system", "developer")


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if isinstance(value, list):
                total += sum(
                    len(enc.encode(p.get("text", ""), disallowed_special=())) for p in value
                )
            else:
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    pinned = [m for m in messages if m["role"] in PINNED]
    used = count_tokens(pinned, model)
    newest = []
    for m in reversed([m for m in messages if m["role"] not in PINNED]):
        cost = count_tokens([m], model) - 3
        if used + cost > max_input_tokens:
            break
        used += cost
        newest.append(m)
    keep = pinned + newest
    return [m for m in messages if any(m is k for k in keep)]


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
        if not line.strip():
            continue
        user = {"role": "user", "content": line}
        messages = trim_history([*history, user], max_input_tokens, model)
        if messages[-1] is not user:
            print("error: that message is too long for the token budget")
            continue
        reply = client.chat.completions.create(model=model, messages=messages)
        text = reply.choices[0].message.content
        print(text)
        history += [user, {"role": "assistant", "content": text}]


if __name__ == "__main__":
    main()
