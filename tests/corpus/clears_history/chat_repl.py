"""A chat REPL that starts a fresh conversation when the budget runs out."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    count = 3
    for message in messages:
        count += 3
        for key, value in message.items():
            parts = value if isinstance(value, list) else [{"text": value}]
            for part in parts:
                count += len(enc.encode(part.get("text", ""), disallowed_special=()))
            if key == "name":
                count += 1
    return count


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    if count_tokens(messages, model) <= max_input_tokens:
        return list(messages)
    # Too long: keep the instructions and the new question, forget the rest.
    fresh = [m for m in messages if m["role"] in ("system", "developer")] + [messages[-1]]
    if count_tokens(fresh, model) > max_input_tokens:
        raise ValueError("that message is too long")
    return fresh


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
        try:
            messages = trim_history(
                [*history, {"role": "user", "content": line}], max_input_tokens, model
            )
        except ValueError as exc:
            print("error:", exc)
            continue
        if len(messages) < len(history) + 1:
            print("(history was full, starting over)")
        reply = client.chat.completions.create(model=model, messages=messages)
        answer = reply.choices[0].message.content
        print(answer)
        history = [*messages, {"role": "assistant", "content": answer}]


if __name__ == "__main__":
    main()
