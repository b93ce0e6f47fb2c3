"""Chat REPL with trimming. Long messages still get sent, with the history left out."""

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
            texts = value if isinstance(value, list) else [{"text": value}]
            total += sum(len(enc.encode(t.get("text", ""), disallowed_special=())) for t in texts)
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    fixed = [i for i, m in enumerate(messages) if m["role"] in PINNED]
    budget = max_input_tokens - count_tokens([messages[i] for i in fixed], model)
    start = len(messages)
    for i in range(len(messages) - 1, -1, -1):
        if i in fixed:
            continue
        cost = count_tokens([messages[i]], model) - 3
        if cost > budget:
            break
        budget -= cost
        start = i
    if start == len(messages) and messages[-1]["role"] not in PINNED:
        raise ValueError("the newest message does not fit")
    return [m for i, m in enumerate(messages) if i in fixed or i >= start]


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
        try:
            messages = trim_history([*history, user], max_input_tokens, model)
        except ValueError:
            print("(long message: sending it without the earlier conversation)")
            messages = [history[0], user]
        reply = client.chat.completions.create(model=model, messages=messages)
        text = reply.choices[0].message.content
        print(text)
        history = [*messages, {"role": "assistant", "content": text}]


if __name__ == "__main__":
    main()
