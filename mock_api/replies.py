"""Reply policies: what the mock answers, deterministically, so tests know what history grows by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mock_api.tokens import encoding_for

FILLER = " ok"


class ReplyPolicy(Protocol):
    def reply(self, number: int, model: str) -> str:
        """The assistant text for the request with this (1-based) number."""
        ...


@dataclass(frozen=True)
class FixedReplies:
    """Answers with these texts in turn, starting over after the last."""

    texts: Sequence[str]

    def __post_init__(self) -> None:
        if not self.texts:
            raise ValueError("FixedReplies needs at least one text")

    def reply(self, number: int, model: str) -> str:
        return self.texts[(number - 1) % len(self.texts)]


@dataclass(frozen=True)
class TokenReplies:
    """Answers with a text of exactly ``tokens`` tokens that starts with the request number."""

    tokens: int

    def __post_init__(self) -> None:
        if self.tokens < 1:
            raise ValueError("TokenReplies needs at least 1 token")

    def reply(self, number: int, model: str) -> str:
        return text_of_tokens(f"Reply {number}.", self.tokens, model)


def text_of_tokens(prefix: str, tokens: int, model: str) -> str:
    """``prefix`` padded with filler words (or cut) to exactly ``tokens`` tokens."""
    enc = encoding_for(model)
    ids = enc.encode(prefix, disallowed_special=())
    text = enc.decode(ids[:tokens]) if len(ids) >= tokens else prefix + FILLER * (tokens - len(ids))
    # BPE may merge across the seam; correct the rare off-by-some with filler.
    for _ in range(8):
        n = len(enc.encode(text, disallowed_special=()))
        if n == tokens:
            return text
        text = text + FILLER if n < tokens else text.removesuffix(FILLER)
    return text


def default_policy() -> ReplyPolicy:
    return TokenReplies(20)
