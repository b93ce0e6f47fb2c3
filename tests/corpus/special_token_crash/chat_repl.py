"""Lesson 03: a chat REPL that trims its history to a token budget."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
SYSTEM_ROLES = ("system", "developer")


def num_tokens(text, model=MODEL):
    return len(tiktoken.encoding_for_model(model).encode(text))


def count_tokens(messages, model=MODEL):
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if key == "content" and isinstance(value, list):
                total += sum(num_tokens(part.get("text", ""), model) for part in value)
            else:
                total += num_tokens(value, model)
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    system = [m for m in messages if m["role"] in SYSTEM_ROLES]
    chat = [m for m in messages if m["role"] not in SYSTEM_ROLES]
    while chat and count_tokens(system + chat, model) > max_input_tokens:
        chat.pop(0)
    if not chat and messages[-1]["role"] not in SYSTEM_ROLES:
        raise ValueError("the message is too long")
    keep = system + chat
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
        new = {"role": "user", "content": line}
        try:
            messages = trim_history([*history, new], max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            continue
        answer = client.chat.completions.create(model=model, messages=messages)
        answer = answer.choices[0].message.content
        print(answer)
        history = [*history, new, {"role": "assistant", "content": answer}]


if __name__ == "__main__":
    main()
