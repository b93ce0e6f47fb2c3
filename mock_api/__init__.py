"""An OpenAI Chat Completions emulator: in-process through respx, or served on loopback."""

from mock_api.core import (
    ChatCompletionsMock,
    Fault,
    JournalEntry,
    MockConfig,
    MockRequest,
    MockResponse,
)
from mock_api.intercept import intercept  # cheap: respx and httpx load when it is used
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
