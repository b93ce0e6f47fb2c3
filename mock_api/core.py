"""The pure core of the Chat Completions emulator: a request in, a response out, a journal kept.

Both ways of reaching the mock, respx in-process (``mock_api.intercept``) and the loopback
server (``mock_api.server``), are thin adapters around ``ChatCompletionsMock.exchange``; so is
the grader, which answers its sandboxed submissions' requests with it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, MutableSequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mock_api import errors
from mock_api.errors import APIError
from mock_api.jsonbody import BodyError, parse_json
from mock_api.models import MODELS, model_list, model_object
from mock_api.replies import ReplyPolicy, default_policy
from mock_api.tokens import count_request_tokens, encoding_for, text_tokens
from mock_api.validate import validate_body

CHAT_PATH = re.compile(r"(^|/)chat/completions/?$")
MODELS_PATH = re.compile(r"(^|/)models/?$")
MODEL_PATH = re.compile(r"(^|/)models/(?P<model>[^/]+)$")
DEFAULT_CONTEXT_WINDOW = 400_000
# 1M tokens of the densest text (CJK and emoji sent as \uXXXX escapes) stays under this.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 64
# The rate limits the headers report (a tier-5 account's, roughly); nothing is enforced.
RATE_LIMIT_REQUESTS = 10_000
RATE_LIMIT_TOKENS = 30_000_000


@dataclass(frozen=True)
class MockRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    # The declared size of a body the server did not read because it is over the limit.
    size: int | None = None


@dataclass(frozen=True)
class MockResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    # A timeout fault: the in-process adapter raises the client's timeout error, the server
    # waits this long before answering.
    timeout: float | None = None
    # A stream's SSE events, each sent as it is ready; ``body`` is all of them joined.
    events: tuple[bytes, ...] = ()

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
    body: Any  # the parsed JSON body, or None where it did not parse (or was refused unread)
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
    api_key: str | None = None  # set: exactly this key; None: see require_auth
    require_auth: bool = False  # with api_key None: any key, but an Authorization header
    faults: dict[int, Fault] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger: 413, never parsed nor journaled
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH  # deeper: 400, as unparseable JSON
    journal_size: int | None = None  # None: unbounded; else the newest entries only


class ChatCompletionsMock:
    """Emulates the Chat Completions API. Thread-safe; numbers requests from 1."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        # A plain list when unbounded (as it always was: it slices and equals lists); a ring
        # of the newest ``journal_size`` entries otherwise.
        size = self.config.journal_size
        self.journal: MutableSequence[JournalEntry] = [] if size is None else deque(maxlen=size)
        self.count = 0  # requests numbered so far; the journal may keep fewer
        self._lock = threading.Lock()

    def handle(self, request: MockRequest) -> MockResponse:
        return self.exchange(request)[1]

    def exchange(self, request: MockRequest) -> tuple[JournalEntry, MockResponse]:
        """Answer the request; return its journal entry with the response."""
        started = time.perf_counter()
        with self._lock:
            self.count += 1
            number = self.count
            entry = JournalEntry(number, request.method, request.path, None, None, 0)
            self.journal.append(entry)
        response = self._answer(number, request, entry)
        entry.status = response.status
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        response.headers.update(api_headers(number, elapsed_ms, entry.prompt_tokens or 0))
        return entry, response

    def _answer(self, number: int, request: MockRequest, entry: JournalEntry) -> MockResponse:
        config = self.config
        size = request.size if request.size is not None else len(request.body)
        too_large = size > config.max_body_bytes
        parsed = not too_large
        if parsed and request.body:
            try:
                entry.body = parse_json(request.body, config.max_json_depth)
            except BodyError:
                parsed = False
        fault = config.faults.get(number)
        if fault is not None:
            entry.fault = fault.kind
            return self._fault(fault, entry)
        try:
            self._authenticate(request.headers)
            if too_large:
                raise errors.body_too_large(size, config.max_body_bytes)
            route = self._route(request.method, request.path)
            if route is not None:
                return route
            if not parsed:
                raise errors.invalid_json()
            body = validate_body(entry.body)
            model = body["model"]
            entry.prompt_tokens = count_request_tokens(body["messages"], model)
            if entry.prompt_tokens > config.context_window:
                raise errors.context_length_exceeded(config.context_window, entry.prompt_tokens)
        except APIError as error:
            return self._error(error, entry)
        text = config.replies.reply(number, model)
        entry.reply = text
        return self._completion(number, body, text, entry.prompt_tokens)

    def _route(self, method: str, path: str) -> MockResponse | None:
        """Answer every URL but Chat Completions here; None lets a chat request through."""
        if CHAT_PATH.search(path):
            if method == "POST":
                return None
            raise errors.wrong_method(method, path)
        read = method in ("GET", "HEAD")
        if MODELS_PATH.search(path):
            if not read:
                raise errors.wrong_method(method, path)
            return json_response(200, model_list())
        found = MODEL_PATH.search(path)
        if found:
            model = found.group("model")
            if not read:
                raise errors.wrong_method(method, path)
            if model not in MODELS:
                raise errors.model_not_found(model)
            return json_response(200, model_object(model))
        raise errors.unknown_url(method, path)

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        if self.config.api_key is None and not self.config.require_auth:
            return
        auth = headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key:
            raise errors.missing_api_key()
        if self.config.api_key is not None and key != self.config.api_key:
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
        n = body.get("n") or 1
        completion_tokens = text_tokens(text, model) * n
        usage = usage_block(prompt_tokens, completion_tokens)
        ident = f"chatcmpl-mock{number:06d}"
        created = int(self.config.clock())
        if body.get("stream"):
            options = body.get("stream_options") or {}
            include_usage = bool(options.get("include_usage"))
            chunks = stream_chunks(ident, created, model, text, usage if include_usage else None, n)
            events = tuple(sse_events(chunks))
            return MockResponse(
                200, {"content-type": "text/event-stream"}, b"".join(events), events=events
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
                        "index": index,
                        "message": {
                            "role": "assistant",
                            "content": text,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                    for index in range(n)
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": None,
            },
        )


def api_headers(number: int, processing_ms: int, tokens: int) -> dict[str, str]:
    """The headers the API sends with every answer: request id, timing, rate limits."""
    return {
        "x-request-id": f"req_{number:032x}",
        "openai-processing-ms": str(processing_ms),
        "openai-version": "2020-10-01",
        "x-ratelimit-limit-requests": str(RATE_LIMIT_REQUESTS),
        "x-ratelimit-limit-tokens": str(RATE_LIMIT_TOKENS),
        "x-ratelimit-remaining-requests": str(RATE_LIMIT_REQUESTS - 1),
        "x-ratelimit-remaining-tokens": str(max(0, RATE_LIMIT_TOKENS - tokens)),
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-reset-tokens": "0s",
    }


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
    ident: str,
    created: int,
    model: str,
    text: str,
    usage: dict[str, Any] | None,
    n: int = 1,
) -> Iterator[dict[str, Any]]:
    """The chunk objects of a streamed completion, in the order the real API sends them."""

    def chunk(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if usage is not None:
            out["usage"] = None
        return out

    pieces = list(text_pieces(text, model))
    for index in range(n):
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None}, None)
        for piece in pieces:
            yield chunk(index, {"content": piece}, None)
        yield chunk(index, {}, "stop")
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
