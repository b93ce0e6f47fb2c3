"""Chat REPL that only sends the recent part of the conversation."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
KEEP_LAST = 6  # three user/assistant exchanges is plenty of context


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    n = 3
    for m in messages:
        n += 3
        for k, v in m.items():
            texts = [p.get("text", "") for p in v] if isinstance(v, list) else [v]
            n += sum(len(enc.encode(t, disallowed_special=())) for t in texts)
            if k == "name":
                n += 1
    return n


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    system = [m for m in messages if m["role"] in ("system", "developer")]
    chat = [m for m in messages if m["role"] not in ("system", "developer")]
    result = system + chat[-KEEP_LAST:]
    if count_tokens(result, model) > max_input_tokens:
        raise ValueError("message too long")
    return result


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            text = input("> ")
        except EOFError:
            return
        if text.strip() == "/quit":
            return
        if not text.strip():
            continue
        try:
            to_send = trim_history(
                [*history, {"role": "user", "content": text}], max_input_tokens, model
            )
        except ValueError as e:
            print("error:", e)
            continue
        reply = client.chat.completions.create(model=model, messages=to_send)
        reply = reply.choices[0].message.content
        print(reply)
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]


if __name__ == "__main__":
    main()
