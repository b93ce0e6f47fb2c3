"""An OpenAI Chat Completions emulator: in-process through respx, or served on loopback."""

from mock_api.core import (
    ChatCompletionsMock,
    Fault,
    JournalEntry,
    MockConfig,
    MockRequest,
    MockResponse,
)
from mock_api.replies import FixedReplies, TokenReplies
from mock_api.tokens import count_request_tokens

__all__ = [
    "ChatCompletionsMock",
    "Fault",
    "FixedReplies",
    "JournalEntry",
    "MockConfig",
    "MockRequest",
    "MockResponse",
    "TokenReplies",
    "count_request_tokens",
    "intercept",
]


def __getattr__(name: str) -> object:
    # respx and httpx load only for in-process interception, not for the server or the grader.
    if name == "intercept":
        from mock_api.intercept import intercept

        return intercept
    raise AttributeError(f"module 'mock_api' has no attribute {name!r}")
