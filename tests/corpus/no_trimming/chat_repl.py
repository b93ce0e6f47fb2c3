"""Lesson 03: chat REPL. (Trimming: to do once the chat works.)"""

import tiktoken
from openai import OpenAI

MODEL = "gpt-5.4"
BUDGET = 8000


def count_tokens(messages, model=MODEL):
    enc = tiktoken.encoding_for_model(model)
    total = 3  # reply priming
    for msg in messages:
        total += 3
        for key, value in msg.items():
            if isinstance(value, list):  # content parts
                for part in value:
                    total += len(enc.encode(part.get("text", ""), disallowed_special=()))
            else:
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=BUDGET, model=MODEL):
    # 8000 tokens is a lot, we will never get there in class
    return list(messages)


def main(system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=BUDGET):
    client = OpenAI()
    history = [{"role": "system", "content": system_prompt}]
    while True:
        try:
            line = input("you> ")
        except EOFError:
            break
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        messages = trim_history(history, max_input_tokens, model)
        response = client.chat.completions.create(model=model, messages=messages)
        answer = response.choices[0].message.content
        print(answer)
        print(f"[{count_tokens(messages, model)} tokens]")
        history.append({"role": "assistant", "content": answer})


if __name__ == "__main__":
    main()
