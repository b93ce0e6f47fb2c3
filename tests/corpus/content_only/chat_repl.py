"""Lesson 03 chat REPL: keeps the conversation under the token budget."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000


def count_tokens(messages, model=MODEL):
    """How many tokens the messages use."""
    enc = tiktoken.encoding_for_model(model)
    total = 0
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content)
        total += len(enc.encode(content, disallowed_special=()))
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    system = [m for m in messages if m["role"] in ("system", "developer")]
    others = [m for m in messages if m["role"] not in ("system", "developer")]
    used = count_tokens(system, model)
    kept = []
    for message in reversed(others):
        cost = count_tokens([message], model)
        if used + cost > max_input_tokens:
            break
        kept.insert(0, message)
        used += cost
    if others and not kept:
        raise ValueError(f"the newest message alone is over {max_input_tokens} tokens")
    cut = len(others) - len(kept)
    dropped = others[:cut]
    return [m for m in messages if not any(m is d for d in dropped)]


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
            request = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        reply = client.chat.completions.create(model=model, messages=request)
        reply = reply.choices[0].message.content
        print(reply)
        print(f"({count_tokens(request, model)}/{max_input_tokens} tokens)")
        history.append({"role": "assistant", "content": reply})


if __name__ == "__main__":
    main()
