"""Chat with a token budget. Oldest messages go first."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
BUDGET = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)

    def n(text):
        return len(enc.encode(text, disallowed_special=()))

    total = 3
    for m in messages:
        total += 3 + n(m["role"])
        content = m.get("content")
        if isinstance(content, str):
            total += n(content)
        elif isinstance(content, list):
            total += sum(n(part["text"]) for part in content if part.get("type") == "text")
        if "name" in m:
            total += n(m["name"]) + 1
    return total


def trim_history(messages, max_input_tokens=BUDGET, model=MODEL):
    kept = list(messages)
    while count_tokens(kept, model) > max_input_tokens:
        if len(kept) == 1:
            raise ValueError("this message alone is over the budget")
        kept.pop(0)  # oldest first
    return kept


def main(system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=BUDGET):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            break
        if line.strip() in ("", "/quit"):
            if line.strip():
                break
            continue
        history.append({"role": "user", "content": line})
        try:
            history = trim_history(history, max_input_tokens, model)
        except ValueError as err:
            print(f"error: {err}")
            history.pop()
            continue
        answer = client.chat.completions.create(model=model, messages=history)
        text = answer.choices[0].message.content
        print(text)
        history.append({"role": "assistant", "content": text})


if __name__ == "__main__":
    main()
