"""Chat REPL, lesson 03."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
PINNED = {"system", "developer"}


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if key == "content" and isinstance(value, list):
                total += sum(
                    len(enc.encode(p.get("text", ""), disallowed_special=())) for p in value
                )
            elif isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
        if "name" in m:
            total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    result = list(messages)
    while count_tokens(result, model) > max_input_tokens:
        oldest = next((i for i, m in enumerate(result) if m["role"] not in PINNED), None)
        if oldest is None or oldest == len(result) - 1:
            raise ValueError("the message is too long for the budget")
        del result[oldest]
    return result


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if line == "/quit":
            break
        if not line:
            continue
        history.append({"role": "user", "content": line})
        try:
            history = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        completion = client.chat.completions.create(model=model, messages=history)
        print(completion.choices[0].message.content)


if __name__ == "__main__":
    main()
