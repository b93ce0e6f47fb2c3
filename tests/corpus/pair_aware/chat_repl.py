"""Chat REPL that forgets whole exchanges: a question goes together with its answer."""

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
            for text in [p.get("text", "") for p in value] if isinstance(value, list) else [value]:
                total += len(enc.encode(text, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    pinned = [m for m in messages if m["role"] in PINNED]
    chat = [m for m in messages if m["role"] not in PINNED]
    while chat and count_tokens(pinned + chat, model) > max_input_tokens:
        if len(chat) == 1:
            raise ValueError("the message alone is over the token budget")
        if chat[0]["role"] == "user" and len(chat) > 2 and chat[1]["role"] == "assistant":
            del chat[:2]  # a question without its answer is confusing: drop both
        else:
            del chat[0]
    kept = {id(m) for m in pinned + chat}
    return [m for m in messages if id(m) in kept]


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
        question = {"role": "user", "content": line}
        try:
            messages = trim_history([*history, question], max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            continue
        completion = client.chat.completions.create(model=model, messages=messages)
        answer = completion.choices[0].message.content or ""
        print(answer)
        history += [question, {"role": "assistant", "content": answer}]


if __name__ == "__main__":
    main()
