"""Chat REPL that prints the answer while it streams in."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)

    def tokens(text):
        return len(enc.encode(text, disallowed_special=()))

    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if key == "content" and isinstance(value, list):
                total += sum(tokens(part["text"]) for part in value if "text" in part)
            elif isinstance(value, str):
                total += tokens(value)
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    keep = [m["role"] in ("system", "developer") for m in messages]
    used = count_tokens([m for i, m in enumerate(messages) if keep[i]], model)
    for i in reversed(range(len(messages))):
        if keep[i]:
            continue
        cost = count_tokens([messages[i]], model) - 3
        if used + cost > max_input_tokens:
            if i == len(messages) - 1:
                raise ValueError("your message is over the token budget")
            break
        used += cost
        keep[i] = True
    return [m for i, m in enumerate(messages) if keep[i]]


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
            messages = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        stream = client.chat.completions.create(model=model, messages=messages, stream=True)
        pieces = []
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                print(chunk.choices[0].delta.content, end="", flush=True)
        print()
        history.append({"role": "assistant", "content": "".join(pieces)})


if __name__ == "__main__":
    main()
