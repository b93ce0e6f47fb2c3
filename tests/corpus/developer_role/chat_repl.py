"""Chat REPL. Newer models take their instructions as a developer message."""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
MAX_INPUT_TOKENS = 8000
INSTRUCTION_ROLES = {"system", "developer"}


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if isinstance(value, list):
                for part in value:
                    total += len(enc.encode(part.get("text", ""), disallowed_special=()))
                continue
            total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    budget = max_input_tokens - count_tokens(
        [m for m in messages if m["role"] in INSTRUCTION_ROLES], model
    )
    chosen = set()
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] in INSTRUCTION_ROLES:
            continue
        cost = count_tokens([messages[i]], model) - 3
        if cost > budget:
            break
        budget -= cost
        chosen.add(i)
    if not chosen and messages[-1]["role"] not in INSTRUCTION_ROLES:
        raise ValueError("message too long for the budget")
    return [m for i, m in enumerate(messages) if i in chosen or m["role"] in INSTRUCTION_ROLES]


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    client = OpenAI()
    history = [{"role": "developer", "content": system_prompt}]
    while True:
        try:
            text = input("you> ")
        except EOFError:
            break
        if text.strip() == "/quit":
            break
        if not text.strip():
            continue
        user = {"role": "user", "content": text}
        try:
            request = trim_history([*history, user], max_input_tokens, model)
        except ValueError as err:
            print("error:", err)
            continue
        answer = client.chat.completions.create(model=model, messages=request)
        answer = answer.choices[0].message.content or ""
        print(answer)
        history += [user, {"role": "assistant", "content": answer}]


if __name__ == "__main__":
    main()
