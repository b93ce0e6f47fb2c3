"""The pure core of the Chat Completions emulator: a request in, a response out, a journal kept.

Both ways of reaching the mock, respx in-process (``mock_api.intercept``) and the loopback
server (``mock_api.server``), are thin adapters around ``ChatCompletionsMock.handle``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mock_api import errors
from mock_api.errors import APIError
from mock_api.replies import ReplyPolicy, default_policy
from mock_api.tokens import count_request_tokens, encoding_for, text_tokens

CHAT_PATH = re.compile(r"(^|/)chat/completions/?$")
REASONING_MODEL = re.compile(r"^(gpt-5|o\d)")
DEFAULT_CONTEXT_WINDOW = 400_000


@dataclass(frozen=True)
class MockRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class MockResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    # A timeout fault: the in-process adapter raises the client's timeout error, the server
    # waits this long before answering.
    timeout: float | None = None

    def json(self) -> Any:
        return json.loads(self.body)


FaultKind = Literal["rate_limit", "server_error", "timeout"]


@dataclass(frozen=True)
class Fault:
    """What the mock does instead of answering a given request number."""

    kind: FaultKind
    retry_after_ms: int = 10  # rate_limit: tells the SDK how long to wait before its retry
    seconds: float = 30.0  # timeout: how long the server holds the connection

    def __post_init__(self) -> None:
        if self.kind not in ("rate_limit", "server_error", "timeout"):
            raise ValueError(f"unknown fault kind {self.kind!r}")


@dataclass
class JournalEntry:
    """One request as the mock saw it, for assertions and grading."""

    number: int
    method: str
    path: str
    body: Any  # the parsed JSON body, or None where it did not parse
    prompt_tokens: int | None
    status: int
    reply: str | None = None
    error: dict[str, Any] | None = None
    fault: FaultKind | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return self.body["messages"]
        return []


@dataclass
class MockConfig:
    replies: ReplyPolicy = field(default_factory=default_policy)
    context_window: int = DEFAULT_CONTEXT_WINDOW
    api_key: str | None = None  # None: any key, or none, is accepted
    faults: dict[int, Fault] = field(default_factory=dict)
    clock: Callable[[], float] = time.time


class ChatCompletionsMock:
    """Emulates POST /v1/chat/completions. Thread-safe; numbers requests from 1."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        self.journal: list[JournalEntry] = []
        self._lock = threading.Lock()

    def handle(self, request: MockRequest) -> MockResponse:
        return self.exchange(request)[1]

    def exchange(self, request: MockRequest) -> tuple[JournalEntry, MockResponse]:
        """Answer the request; return its journal entry with the response."""
        with self._lock:
            number = len(self.journal) + 1
            entry = JournalEntry(number, request.method, request.path, None, None, 0)
            self.journal.append(entry)
        response = self._answer(number, request, entry)
        entry.status = response.status
        return entry, response

    def _answer(self, number: int, request: MockRequest, entry: JournalEntry) -> MockResponse:
        parsed = True
        try:
            entry.body = json.loads(request.body) if request.body else None
        except (ValueError, UnicodeDecodeError):
            parsed = False
        fault = self.config.faults.get(number)
        if fault is not None:
            entry.fault = fault.kind
            return self._fault(fault, entry)
        try:
            self._authenticate(request.headers)
            if request.method != "POST" or not CHAT_PATH.search(request.path):
                raise errors.unknown_url(request.method, request.path)
            if not parsed:
                raise errors.invalid_json()
            body = validate_body(entry.body)
            model = body["model"]
            entry.prompt_tokens = count_request_tokens(body["messages"], model)
            if entry.prompt_tokens > self.config.context_window:
                raise errors.context_length_exceeded(
                    self.config.context_window, entry.prompt_tokens
                )
        except APIError as error:
            return self._error(error, entry)
        text = self.config.replies.reply(number, model)
        entry.reply = text
        return self._completion(number, body, text, entry.prompt_tokens)

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        if self.config.api_key is None:
            return
        auth = headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key:
            raise errors.missing_api_key()
        if key != self.config.api_key:
            raise errors.wrong_api_key(key)

    def _fault(self, fault: Fault, entry: JournalEntry) -> MockResponse:
        body = entry.body if isinstance(entry.body, dict) else {}
        model = str(body.get("model", "gpt-5.4"))
        if fault.kind == "timeout":
            return MockResponse(504, {}, b"", timeout=fault.seconds)
        if fault.kind == "rate_limit":
            response = self._error(errors.rate_limited(model), entry)
            response.headers["retry-after-ms"] = str(fault.retry_after_ms)
            return response
        return self._error(errors.server_error(), entry)

    def _error(self, error: APIError, entry: JournalEntry) -> MockResponse:
        entry.error = error.envelope()["error"]
        return json_response(error.status, error.envelope())

    def _completion(
        self, number: int, body: dict[str, Any], text: str, prompt_tokens: int
    ) -> MockResponse:
        model = body["model"]
        completion_tokens = text_tokens(text, model)
        usage = usage_block(prompt_tokens, completion_tokens)
        ident = f"chatcmpl-mock{number:06d}"
        created = int(self.config.clock())
        if body.get("stream"):
            options = body.get("stream_options") or {}
            include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
            chunks = stream_chunks(ident, created, model, text, usage if include_usage else None)
            return MockResponse(
                200, {"content-type": "text/event-stream"}, b"".join(sse_events(chunks))
            )
        return json_response(
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": text,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": None,
            },
        )


def validate_body(body: Any) -> dict[str, Any]:
    """Reject what the real API rejects, in its words; return the body when it is acceptable."""
    if not isinstance(body, dict):
        raise errors.missing_parameter("model")
    for name in ("model", "messages"):
        if name not in body:
            raise errors.missing_parameter(name)
    if not isinstance(body["model"], str):
        raise errors.invalid_type("model", "a string", body["model"])
    messages = body["messages"]
    if not isinstance(messages, list):
        raise errors.invalid_type("messages", "an array", messages)
    if not messages:
        raise APIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise errors.invalid_type(f"messages[{i}]", "an object", message)
        if "role" not in message:
            raise errors.missing_parameter(f"messages[{i}].role")
        if message["role"] not in errors.SUPPORTED_ROLES:
            raise errors.invalid_role(i, message["role"])
    if "max_tokens" in body and REASONING_MODEL.match(body["model"]):
        raise errors.unsupported_max_tokens()
    return body


def usage_block(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def stream_chunks(
    ident: str, created: int, model: str, text: str, usage: dict[str, Any] | None
) -> Iterator[dict[str, Any]]:
    """The chunk objects of a streamed completion, in the order the real API sends them."""

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            out["usage"] = None
        return out

    yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
    for piece in text_pieces(text, model):
        yield chunk({"content": piece}, None)
    yield chunk({}, "stop")
    if usage is not None:
        yield {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [],
            "usage": usage,
        }


def text_pieces(text: str, model: str, tokens_per_piece: int = 4) -> Iterator[str]:
    """The text cut at token boundaries into small deltas, as a model emits it."""
    enc = encoding_for(model)
    _, offsets = enc.decode_with_offsets(enc.encode(text, disallowed_special=()))
    cuts = sorted({0, *offsets[tokens_per_piece::tokens_per_piece], len(text)})
    for start, end in itertools.pairwise(cuts):
        yield text[start:end]


def sse_events(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def json_response(status: int, payload: Any) -> MockResponse:
    return MockResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())
