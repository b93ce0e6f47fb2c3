"""Chat REPL (lesson 03). trim_history pops old messages until the request fits."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for msg in messages:
        total += 3
        for key, value in msg.items():
            if isinstance(value, list):
                for part in value:
                    total += len(enc.encode(part.get("text", ""), disallowed_special=()))
            else:
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    while count_tokens(messages, model) > max_input_tokens:
        droppable = [
            i for i, m in enumerate(messages[:-1]) if m["role"] not in ("system", "developer")
        ]
        if not droppable:
            raise ValueError("this message does not fit in the budget")
        messages.pop(droppable[0])
    return messages


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
        candidate = [*history, {"role": "user", "content": line}]
        try:
            messages = trim_history(candidate, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            continue
        response = client.chat.completions.create(model=model, messages=messages)
        reply = response.choices[0].message.content
        print(reply)
        history = [*messages, {"role": "assistant", "content": reply}]


if __name__ == "__main__":
    main()
