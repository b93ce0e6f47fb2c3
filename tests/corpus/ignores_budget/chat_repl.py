"""Chat REPL with one mistake (see tests/corpus/expected.toml)."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            if isinstance(value, list):
                texts = [part["text"] for part in value if "text" in part]
            else:
                texts = [value]
            for text in texts:
                total += len(enc.encode(text, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    result = list(messages)
    while count_tokens(result, model) > MAX_INPUT_TOKENS:
        i = 0
        while result[i]["role"] in ("system", "developer"):
            i += 1
        if i == len(result) - 1:
            raise ValueError("too long")
        result.pop(i)
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
            sent = trim_history(history, max_input_tokens, model)
        except ValueError as e:
            print("error:", e)
            history.pop()
            continue
        r = client.chat.completions.create(model=model, messages=sent)
        reply = r.choices[0].message.content
        print(reply)
        history.append({"role": "assistant", "content": reply})


if __name__ == "__main__":
    main()
