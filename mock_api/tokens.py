"""Input-token accounting for Chat Completions requests, shared by the mock and the grader.

The formula is the one in OpenAI's cookbook "How to count tokens with tiktoken": every message
costs 3 tokens plus the tokens of each string value in it (role and content included), a
``name`` costs 1 more, and the reply is primed with 3. Special-token strings such as
``<|endoftext|>`` in user text are ordinary text here, never an error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

import tiktoken

from mock_api.offline import BUNDLED_ENCODINGS, prepare_tiktoken

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
FALLBACK_ENCODING = "o200k_base"

_load_lock = threading.Lock()


def encoding_name_for(model: str) -> str:
    """tiktoken's encoding name for the model, if its data is bundled; else o200k_base.

    Unknown names (new models) fall back, and so do legacy models whose encodings
    (p50k_base, r50k_base, gpt2) are not bundled: loading those would make tiktoken download.
    """
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return FALLBACK_ENCODING
    return name if name in BUNDLED_ENCODINGS else FALLBACK_ENCODING


@cache
def load_encoding(name: str) -> tiktoken.Encoding:
    """Prepare tiktoken right before the first load of each encoding in this process, so a
    cache directory changed or emptied since cannot make tiktoken download; with no writable
    cache the encoding is built in memory."""
    with _load_lock:
        prepare_tiktoken([name])
        return tiktoken.get_encoding(name)


def encoding_for(model: str) -> tiktoken.Encoding:
    """The encoding the model counts with (see ``encoding_name_for``)."""
    return load_encoding(encoding_name_for(model))


def text_tokens(text: str, model: str) -> int:
    return encoded_length(text, encoding_name_for(model))


@lru_cache(maxsize=4096)
def encoded_length(text: str, encoding: str) -> int:
    """Cached: a chat resends the same history every turn, so most texts are counted before.
    Keyed by encoding, not model; bounded, since a long-running server sees endless texts."""
    return len(load_encoding(encoding).encode(text, disallowed_special=()))


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
