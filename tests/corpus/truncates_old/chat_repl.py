"""Chat REPL. Instead of losing old messages, I shorten them so the model keeps some context."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
SHORT = 200  # characters an old message is cut down to


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, val in m.items():
            if isinstance(val, list):
                val = [p["text"] for p in val if isinstance(p.get("text"), str)]
            else:
                val = [val]
            total += sum(len(enc.encode(v, disallowed_special=())) for v in val)
            total += key == "name"
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    result = [dict(m) for m in messages]
    if count_tokens(result, model) <= max_input_tokens:
        return result
    # 1. shorten everything but the last exchange
    for m in result[:-2]:
        if m["role"] not in ("system", "developer") and len(m["content"]) > SHORT:
            m["content"] = m["content"][:SHORT] + "..."
    # 2. if that is not enough, drop the oldest
    while count_tokens(result, model) > max_input_tokens:
        i = next(i for i, m in enumerate(result) if m["role"] not in ("system", "developer"))
        if i == len(result) - 1:
            raise ValueError("message too long")
        del result[i]
    return result


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
            to_send = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        out = client.chat.completions.create(model=model, messages=to_send)
        answer = out.choices[0].message.content
        print(answer)
        history.append({"role": "assistant", "content": answer})


if __name__ == "__main__":
    main()
