"""Token-budget chat REPL (lesson 03)."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    tokens = 3
    for message in messages:
        tokens += 3
        for key, value in message.items():
            if key == "content" and isinstance(value, list):
                value = [part["text"] for part in value if "text" in part]
            else:
                value = [value]
            for text in value:
                tokens += len(enc.encode(text, disallowed_special=()))
            if key == "name":
                tokens += 1
    return tokens


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    trimmed = list(messages)
    while count_tokens(trimmed, model) > max_input_tokens:
        if sum(m["role"] not in ("system", "developer") for m in trimmed) <= 1:
            raise ValueError("even a single message does not fit")
        # drop a message that is not a system message
        for i in range(len(trimmed) - 1, -1, -1):
            if trimmed[i]["role"] not in ("system", "developer"):
                del trimmed[i]
                break
    return trimmed


def main(system_prompt=SYSTEM_PROMPT, model=MODEL, max_input_tokens=MAX_INPUT_TOKENS):
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
        candidate = [*history, {"role": "user", "content": line}]
        try:
            messages = trim_history(candidate, max_input_tokens, model)
        except ValueError as exc:
            print("error:", exc)
            continue
        completion = client.chat.completions.create(model=model, messages=messages)
        reply = completion.choices[0].message.content or ""
        print(reply)
        history = [*candidate, {"role": "assistant", "content": reply}]


if __name__ == "__main__":
    main()
