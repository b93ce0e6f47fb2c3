"""Lesson 03: chat REPL, organised as a ChatSession class."""

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
            if key == "content" and isinstance(value, list):
                total += sum(
                    len(enc.encode(part.get("text", ""), disallowed_special=())) for part in value
                )
            elif isinstance(value, str):
                total += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                total += 1
    return total


def trim_history(messages, max_input_tokens=MAX_INPUT_TOKENS, model=MODEL):
    pinned = [m for m in messages if m["role"] in PINNED]
    rest = [m for m in messages if m["role"] not in PINNED]
    while rest and count_tokens(pinned + rest, model) > max_input_tokens:
        if len(rest) == 1:
            raise ValueError("the newest message does not fit the budget")
        rest = rest[1:]
    keep = {id(m) for m in pinned + rest}
    return [m for m in messages if id(m) in keep]


class ChatSession:
    def __init__(self, client, system_prompt, model, max_input_tokens):
        self.client = client
        self.model = model
        self.max_input_tokens = max_input_tokens
        self.history = [{"role": "system", "content": system_prompt}]

    def ask(self, text):
        user = {"role": "user", "content": text}
        messages = trim_history([*self.history, user], self.max_input_tokens, self.model)
        response = self.client.chat.completions.create(model=self.model, messages=messages)
        answer = response.choices[0].message.content or ""
        self.history += [user, {"role": "assistant", "content": answer}]
        return answer

    def run(self):
        while True:
            try:
                line = input("you> ")
            except EOFError:
                return
            if line.strip() == "/quit":
                return
            if not line.strip():
                continue
            try:
                print(self.ask(line))
            except ValueError as e:
                print("error:", e)


def main(
    system_prompt="You are a helpful assistant.", model=MODEL, max_input_tokens=MAX_INPUT_TOKENS
):
    ChatSession(OpenAI(), system_prompt, model, max_input_tokens).run()


if __name__ == "__main__":
    main()
