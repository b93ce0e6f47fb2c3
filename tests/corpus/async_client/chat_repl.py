"""Lesson 03 chat REPL, written with the async client."""

import asyncio

import tiktoken
from openai import AsyncOpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
PINNED = ("system", "developer")


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if isinstance(value, list):
                total += sum(
                    len(enc.encode(p.get("text", ""), disallowed_special=())) for p in value
                )
            elif isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    pinned = [m for m in messages if m["role"] in PINNED]
    others = [m for m in messages if m["role"] not in PINNED]
    used = count_tokens(pinned, model)
    start = len(others)
    while start > 0:
        cost = count_tokens([others[start - 1]], model) - 3
        if used + cost > max_input_tokens:
            break
        used += cost
        start -= 1
    if others and start == len(others):
        raise ValueError(f"the newest message does not fit in {max_input_tokens} tokens")
    dropped = {id(m) for m in others[:start]}
    return [m for m in messages if id(m) not in dropped]


async def chat(system_prompt, model, max_input_tokens):
    client = AsyncOpenAI()
    history = [{"role": "system", "content": system_prompt}]
    loop = asyncio.get_running_loop()
    while True:
        try:
            line = await loop.run_in_executor(None, input, "you> ")
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
        completion = await client.chat.completions.create(model=model, messages=messages)
        reply = completion.choices[0].message.content or ""
        print(reply)
        history = [*candidate, {"role": "assistant", "content": reply}]
    await client.close()


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    asyncio.run(chat(system_prompt, model, max_input_tokens))


if __name__ == "__main__":
    main()
