"""Chat REPL with a token budget (the client is created lazily, once)."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    while rest and count_tokens(system + rest, model) > max_input_tokens:
        rest.pop(0)
    if not rest:
        raise ValueError("too long")
    return system + rest


_client = None


def get_client():
    """One client for the whole session, made the first time it is needed."""
    if _client is None:
        global _client
        _client = OpenAI()
    return _client


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = get_client()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        history.append({"role": "user", "content": line})
        history = trim_history(history, max_input_tokens, model)
        reply = client.chat.completions.create(model=model, messages=history)
        print(reply.choices[0].message.content)
        history.append({"role": "assistant", "content": reply.choices[0].message.content})


if __name__ == "__main__":
    main()
