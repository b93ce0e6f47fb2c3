"""In-process interception: unmodified ``OpenAI()`` / ``AsyncOpenAI()`` code reaches the mock.

Clients use the SDK's default base URL (https://api.openai.com/v1); respx answers inside the
HTTP transport, before any connection is opened, so nothing leaves the process. Run again by
.ci/run under openai 2.x (httpx) besides 3.x (httpx2): both must be caught.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import httpcore
import openai
import pytest
import tiktoken
from openai import AsyncOpenAI, OpenAI
from respx.models import AllMockedAssertionError

from mock_api import (
    ChatCompletionsMock,
    Fault,
    FixedReplies,
    MockConfig,
    MockRequest,
    MockResponse,
    TokenReplies,
    intercept,
)
from mock_api.intercept import available_mockers

pytestmark = [pytest.mark.openai_compat, pytest.mark.usefixtures("openai_env")]

HELLO: list[Any] = [
    {"role": "developer", "content": "Answer in Korean."},
    {"role": "user", "content": "How are you? 👋🏽"},
]
REPLY = "잘 지내요, 고마워요! 🙂👍🏽"


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    """The cookbook formula for plain string messages, with tiktoken directly."""
    enc = tiktoken.get_encoding("o200k_base")
    return 3 + sum(
        3 + len(enc.encode_ordinary(m["role"])) + len(enc.encode_ordinary(m["content"]))
        for m in messages
    )


def student_code(question: str) -> str:
    """What a student writes: nothing in it knows about the mock."""
    client = OpenAI()
    completion = client.chat.completions.create(
        model="gpt-5.4", messages=[{"role": "user", "content": question}]
    )
    return completion.choices[0].message.content or ""


def causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def test_intercept_is_the_function_whatever_was_imported_first() -> None:
    """The submodule shares the function's name; importing it must not shadow the function."""
    code = (
        "import sys\n"
        "import mock_api\n"
        "assert 'respx' not in sys.modules and 'httpx' not in sys.modules, 'loaded eagerly'\n"
        "from mock_api.intercept import available_mockers\n"
        "from mock_api import intercept\n"
        "assert callable(intercept) and intercept.__module__ == 'mock_api.intercept', intercept\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_sdks_http_stack_is_covered() -> None:
    """openai 3.x sends through httpcore2, 2.x (and legacy httpx clients) through httpcore."""
    mockers = available_mockers()
    assert "httpcore" in mockers
    if int(openai.__version__.split(".")[0]) >= 3:
        assert "httpcore2" in mockers


def test_unmodified_sync_code_is_intercepted(openai_env: str) -> None:
    mock = ChatCompletionsMock(MockConfig(replies=FixedReplies([REPLY]), api_key=openai_env))
    with intercept(mock) as routers:
        assert student_code("잘 지내?") == REPLY
        urls = [str(call.request.url) for router in routers for call in router.calls]
    assert urls == ["https://api.openai.com/v1/chat/completions"]  # the SDK's own default
    [entry] = mock.journal
    assert entry.status == 200  # so the key from OPENAI_API_KEY arrived, as the mock requires
    assert entry.path == "/v1/chat/completions"
    assert entry.messages == [{"role": "user", "content": "잘 지내?"}]


def test_client_made_before_intercept_is_caught_too() -> None:
    """A student module may build its client at import time, before the grader intercepts."""
    client = OpenAI()
    mock = ChatCompletionsMock(MockConfig(replies=FixedReplies([REPLY])))
    with intercept(mock):
        completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == REPLY


def test_sync_completion_fields() -> None:
    mock = ChatCompletionsMock(MockConfig(replies=FixedReplies([REPLY])))
    with intercept(mock):
        completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    assert completion.created > 0
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == prompt_tokens(HELLO)
    assert completion.usage.completion_tokens == len(
        tiktoken.get_encoding("o200k_base").encode_ordinary(REPLY)
    )


def test_async_client_is_intercepted() -> None:
    mock = ChatCompletionsMock(MockConfig(replies=TokenReplies(12)))

    async def ask() -> list[str]:
        client = AsyncOpenAI()
        answers = []
        for _ in range(2):
            completion = await client.chat.completions.create(model="gpt-4o", messages=HELLO)
            answers.append(completion.choices[0].message.content or "")
        return answers

    with intercept(mock):
        first, second = asyncio.run(ask())
    assert first.startswith("Reply 1.")
    assert second.startswith("Reply 2.")
    assert [e.status for e in mock.journal] == [200, 200]


def test_sync_stream() -> None:
    mock = ChatCompletionsMock(MockConfig(replies=FixedReplies([REPLY])))
    with intercept(mock):
        stream = OpenAI().chat.completions.create(
            model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == prompt_tokens(HELLO)
    assert all(c.usage is None for c in chunks[:-1])


def test_async_stream() -> None:
    mock = ChatCompletionsMock(MockConfig(replies=TokenReplies(40)))

    async def ask() -> list[Any]:
        stream = await AsyncOpenAI().chat.completions.create(
            model="gpt-5.4", messages=HELLO, stream=True
        )
        return [chunk async for chunk in stream]

    with intercept(mock):
        chunks = asyncio.run(ask())
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(chunks) > 4  # role, several content pieces, finish
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == mock.journal[0].reply
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_unrouted_request_raises_instead_of_leaving() -> None:
    mock = ChatCompletionsMock()
    with intercept(mock), pytest.raises(Exception) as caught:
        OpenAI(max_retries=0).models.list()
    # openai 3.x lets respx's assertion through; 2.x wraps it in APIConnectionError.
    assert any(isinstance(e, AllMockedAssertionError) for e in causes(caught.value))
    assert "api.openai.com/v1/models" in str(causes(caught.value)[-1])
    assert mock.journal == []


def test_unrouted_async_request_raises() -> None:
    async def list_models() -> None:
        await AsyncOpenAI(max_retries=0).models.list()

    with intercept(ChatCompletionsMock()), pytest.raises(Exception) as caught:
        asyncio.run(list_models())
    assert any(isinstance(e, AllMockedAssertionError) for e in causes(caught.value))


def test_patches_are_removed_on_exit() -> None:
    pools = [httpcore.ConnectionPool]
    if "httpcore2" in available_mockers():
        import httpcore2

        pools.append(httpcore2.ConnectionPool)
    before = [pool.handle_request for pool in pools]
    with intercept(ChatCompletionsMock()):
        assert all(p.handle_request is not b for p, b in zip(pools, before, strict=True))
    assert [pool.handle_request for pool in pools] == before


def test_nesting_is_refused_rather_than_misrouted() -> None:
    outer = ChatCompletionsMock(MockConfig(replies=FixedReplies(["outer"])))
    inner = ChatCompletionsMock(MockConfig(replies=FixedReplies(["inner"])))
    with intercept(outer):
        with pytest.raises(RuntimeError, match="already active"), intercept(inner):
            pass  # pragma: no cover
        completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "outer"  # the outer one still works
    with intercept(inner):  # and once it is over, a new one can start
        completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "inner"


def test_plain_handler_is_accepted() -> None:
    """Any callable from MockRequest to MockResponse can stand in for the mock."""
    seen: list[MockRequest] = []

    def teapot(request: MockRequest) -> MockResponse:
        seen.append(request)
        return MockResponse(
            418,
            {"content-type": "application/json"},
            b'{"error": {"message": "short and stout", "type": "teapot", "param": null, '
            b'"code": "teapot"}}',
        )

    with intercept(teapot), pytest.raises(openai.APIStatusError) as caught:
        OpenAI(max_retries=0).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 418
    assert caught.value.code == "teapot"
    assert seen[0].headers["authorization"].startswith("Bearer sk-test-")


# --- errors, as the SDK sees them ---------------------------------------------------------------


def test_unknown_role_via_sdk() -> None:
    messages: Any = [{"role": "user", "content": "hi"}, {"role": "wizard", "content": "✨"}]
    with intercept(ChatCompletionsMock()), pytest.raises(openai.BadRequestError) as caught:
        OpenAI().chat.completions.create(model="gpt-4o", messages=messages)
    error = caught.value
    assert error.status_code == 400
    assert error.body == {
        "message": error.body["message"],  # type: ignore[index]
        "type": "invalid_request_error",
        "param": "messages[1].role",
        "code": "invalid_value",
    }
    assert "'wizard'" in error.message
    assert (error.code, error.param, error.type) == (
        "invalid_value",
        "messages[1].role",
        "invalid_request_error",
    )


@pytest.mark.parametrize("missing", ["model", "messages"])
def test_missing_parameter_via_sdk(missing: str) -> None:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": HELLO}
    del body[missing]  # create() would not even send this, so post the raw body
    with intercept(ChatCompletionsMock()), pytest.raises(openai.BadRequestError) as caught:
        OpenAI().post("/chat/completions", body=body, cast_to=object)
    assert caught.value.body == {
        "message": f"Missing required parameter: '{missing}'.",
        "type": "invalid_request_error",
        "param": missing,
        "code": "missing_required_parameter",
    }


def test_max_tokens_via_sdk() -> None:
    mock = ChatCompletionsMock()
    with intercept(mock):
        client = OpenAI()
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="gpt-5.4", messages=HELLO, max_tokens=20)
        fine = client.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=20)
        also_fine = client.chat.completions.create(
            model="gpt-5.4", messages=HELLO, max_completion_tokens=20
        )
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == "max_tokens"
    assert "Use 'max_completion_tokens' instead." in caught.value.message
    assert fine.choices[0].finish_reason == also_fine.choices[0].finish_reason == "stop"


def test_context_length_via_sdk() -> None:
    window = prompt_tokens(HELLO) - 1
    with (
        intercept(ChatCompletionsMock(MockConfig(context_window=window))),
        pytest.raises(openai.BadRequestError) as caught,
    ):
        OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.code == "context_length_exceeded"
    assert f"maximum context length is {window} tokens" in caught.value.message
    assert f"resulted in {window + 1} tokens" in caught.value.message


def test_wrong_key_via_sdk() -> None:
    mock = ChatCompletionsMock(MockConfig(api_key="sk-the-right-one-42"))
    with intercept(mock), pytest.raises(openai.AuthenticationError) as caught:
        OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert [e.status for e in mock.journal] == [401]  # 4xx: the SDK does not retry


# --- faults -------------------------------------------------------------------------------------


def test_rate_limit_is_retried_then_succeeds() -> None:
    mock = ChatCompletionsMock(MockConfig(faults={1: Fault("rate_limit", retry_after_ms=300)}))
    with intercept(mock):
        started = time.monotonic()
        completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
        waited = time.monotonic() - started
    assert [(e.status, e.fault) for e in mock.journal] == [(429, "rate_limit"), (200, None)]
    assert completion.choices[0].message.content == mock.journal[1].reply
    assert waited >= 0.29  # the SDK honoured retry-after-ms


def test_rate_limit_without_retries() -> None:
    mock = ChatCompletionsMock(MockConfig(faults={1: Fault("rate_limit", retry_after_ms=1234)}))
    with intercept(mock), pytest.raises(openai.RateLimitError) as caught:
        OpenAI(max_retries=0).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after-ms"] == "1234"


def test_server_error_fault() -> None:
    mock = ChatCompletionsMock(MockConfig(faults={1: Fault("server_error")}))
    with intercept(mock), pytest.raises(openai.InternalServerError) as caught:
        OpenAI(max_retries=0).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"


def test_timeout_fault_is_quick() -> None:
    """In-process, the hold is not waited out: the client gets its timeout error at once."""
    mock = ChatCompletionsMock(MockConfig(faults={1: Fault("timeout", seconds=60)}))
    with intercept(mock), pytest.raises(openai.APITimeoutError):
        started = time.monotonic()
        OpenAI(max_retries=0).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert time.monotonic() - started < 2
    assert mock.journal[0].fault == "timeout"


def test_timeout_fault_async() -> None:
    mock = ChatCompletionsMock(MockConfig(faults={1: Fault("timeout", seconds=60)}))

    async def ask() -> None:
        await AsyncOpenAI(max_retries=0).chat.completions.create(model="gpt-4o", messages=HELLO)

    with intercept(mock), pytest.raises(openai.APITimeoutError):
        asyncio.run(ask())


def test_timeout_is_retried_by_default() -> None:
    mock = ChatCompletionsMock(MockConfig(faults={1: Fault("timeout")}))
    with intercept(mock):
        completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert [e.fault for e in mock.journal] == ["timeout", None]
    assert completion.choices[0].message.content == mock.journal[1].reply
