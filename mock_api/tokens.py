"""Input-token accounting for Chat Completions requests, shared by the mock and the grader.

The formula is the one in OpenAI's cookbook "How to count tokens with tiktoken": every message
costs 3 tokens plus the tokens of each string value in it (role and content included), a
``name`` costs 1 more, and the reply is primed with 3. Special-token strings such as
``<|endoftext|>`` in user text are ordinary text here, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import tiktoken

from mock_api.offline import seed_tiktoken_cache

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
FALLBACK_ENCODING = "o200k_base"

_seeded = False


@lru_cache(maxsize=16)
def encoding_for(model: str) -> tiktoken.Encoding:
    """tiktoken's encoding for the model; unknown names (new models) fall back to o200k_base."""
    global _seeded
    if not _seeded:
        seed_tiktoken_cache()
        _seeded = True
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding(FALLBACK_ENCODING)


@lru_cache(maxsize=65536)
def text_tokens(text: str, model: str) -> int:
    """Cached: a chat resends the same history every turn, so most texts are counted before."""
    return len(encoding_for(model).encode(text, disallowed_special=()))


def content_strings(content: Any) -> Iterable[str]:
    """The text of a message's content: a string, or a list of text parts."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                yield part["text"]


def message_tokens(message: Mapping[str, Any], model: str) -> int:
    """One message's share of a request: 3, plus its strings, plus 1 for a name."""
    total = TOKENS_PER_MESSAGE
    for key, value in message.items():
        strings = content_strings(value) if key == "content" else [value]
        for text in strings:
            if isinstance(text, str):
                total += text_tokens(text, model)
        if key == "name":
            total += TOKENS_PER_NAME
    return total


def count_request_tokens(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """prompt_tokens of a request with these messages."""
    return REPLY_PRIMING + sum(message_tokens(m, model) for m in messages)
