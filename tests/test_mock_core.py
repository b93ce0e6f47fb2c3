"""The mock's pure core, request in and response out, with no HTTP in between.

Expected token numbers are computed here with tiktoken directly, not with ``mock_api.tokens``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_api import (
    ChatCompletionsMock,
    Fault,
    FixedReplies,
    MockConfig,
    MockRequest,
    MockResponse,
    TokenReplies,
)

pytestmark = pytest.mark.openai_compat

NOW = 1_767_000_000
CHAT = "/v1/chat/completions"
HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "안녕? 👋"}]


def tokens(text: str) -> int:
    # Looked up at call time: at import, the session fixture has not seeded tiktoken yet.
    return len(tiktoken.get_encoding("o200k_base").encode_ordinary(text))


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    """The cookbook formula for plain string messages, by hand."""
    return 3 + sum(3 + tokens(m["role"]) + tokens(m["content"]) for m in messages)


def make_mock(**config: Any) -> ChatCompletionsMock:
    config.setdefault("clock", lambda: NOW)
    return ChatCompletionsMock(MockConfig(**config))


def post(
    mock: ChatCompletionsMock,
    body: Any,
    headers: dict[str, str] | None = None,
    path: str = CHAT,
    method: str = "POST",
) -> MockResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return mock.handle(MockRequest(method, path, headers or {}, raw))


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": HELLO, **extra}


def error_of(response: MockResponse) -> dict[str, Any]:
    """The error object, after checking the envelope has the real API's exact shape."""
    payload = response.json()
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    return payload["error"]


def sse_chunks(response: MockResponse) -> list[dict[str, Any]]:
    """The chunk objects of an SSE body, checking the framing the SDKs parse."""
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = response.body.decode().split("\n\n")
    assert events[-1] == ""
    assert events[-2] == "data: [DONE]"
    assert all(event.startswith("data: ") for event in events[:-1])
    return [json.loads(event.removeprefix("data: ")) for event in events[:-2]]


# --- what a completion looks like ---------------------------------------------------------------


def test_completion_has_the_real_shape() -> None:
    mock = make_mock(replies=FixedReplies(["네, 안녕하세요! 🙂"]))
    response = post(mock, chat())
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["created"] == NOW
    assert body["model"] == "gpt-4o"
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "네, 안녕하세요! 🙂"
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == prompt_tokens(HELLO)
    assert usage["completion_tokens"] == tokens("네, 안녕하세요! 🙂")
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_each_request_gets_its_own_id() -> None:
    mock = make_mock()
    ids = {post(mock, chat()).json()["id"] for _ in range(3)}
    assert len(ids) == 3


def test_prompt_tokens_use_the_models_encoding() -> None:
    mock = make_mock()
    cl100k = tiktoken.get_encoding("cl100k_base")
    expected = 3 + sum(
        3 + len(cl100k.encode_ordinary(m["role"])) + len(cl100k.encode_ordinary(m["content"]))
        for m in HELLO
    )
    usage = post(mock, chat(model="gpt-3.5-turbo")).json()["usage"]
    assert usage["prompt_tokens"] == expected != prompt_tokens(HELLO)


# --- streaming ----------------------------------------------------------------------------------


def test_stream_with_usage_has_the_real_shape() -> None:
    mock = make_mock(replies=TokenReplies(30))
    chunks = sse_chunks(post(mock, chat(stream=True, stream_options={"include_usage": True})))
    plain = post(mock, chat()).json()  # request 2, for the usage block to compare with

    first, *middle, last, usage_chunk = chunks
    assert {c["id"] for c in chunks} == {first["id"]}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"gpt-4o"}
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"]["content"] == ""
    assert len(middle) > 1  # really streamed in pieces, not one blob
    for chunk in middle:
        [choice] = chunk["choices"]
        assert set(choice["delta"]) == {"content"}
        assert choice["finish_reason"] is None
    assert last["choices"][0]["delta"] == {}
    assert last["choices"][0]["finish_reason"] == "stop"
    for chunk in chunks[:-1]:
        assert "usage" in chunk
        assert chunk["usage"] is None
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == prompt_tokens(HELLO)
    assert usage_chunk["usage"]["completion_tokens"] == 30
    assert usage_chunk["usage"] == plain["usage"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == mock.journal[0].reply
    assert text.startswith("Reply 1.")


def test_stream_without_usage_has_no_usage_field() -> None:
    mock = make_mock()
    for body in (chat(stream=True), chat(stream=True, stream_options={"include_usage": False})):
        chunks = sse_chunks(post(mock, body))
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert all("usage" not in chunk for chunk in chunks)


@settings(max_examples=60, deadline=None)
@given(
    reply=st.one_of(
        st.text(max_size=80),
        st.sampled_from(["안녕하세요, 반갑습니다!", "👨‍👩‍👧‍👦🇰🇷👋🏽", "a<|endoftext|>b", ""]),
    ),
    model=st.sampled_from(["gpt-4o", "gpt-3.5-turbo"]),
)
def test_stream_deltas_join_to_the_reply_exactly(reply: str, model: str) -> None:
    mock = make_mock(replies=FixedReplies([reply]))
    chunks = sse_chunks(post(mock, chat(model=model, stream=True)))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == reply


# --- validation, in the API's words -------------------------------------------------------------


@pytest.mark.parametrize("missing", ["model", "messages"])
def test_missing_required_parameter(missing: str) -> None:
    body = chat()
    del body[missing]
    response = post(make_mock(), body)
    assert response.status == 400
    assert error_of(response) == {
        "message": f"Missing required parameter: '{missing}'.",
        "type": "invalid_request_error",
        "param": missing,
        "code": "missing_required_parameter",
    }


def test_unknown_role_names_the_message() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]
    response = post(make_mock(), chat(messages=messages))
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == "invalid_value"
    assert error["param"] == "messages[1].role"
    assert error["type"] == "invalid_request_error"
    assert "'robot'" in error["message"]


def test_message_without_role() -> None:
    response = post(make_mock(), chat(messages=[{"content": "hi"}]))
    assert response.status == 400
    assert error_of(response)["param"] == "messages[0].role"


def test_empty_messages() -> None:
    response = post(make_mock(), chat(messages=[]))
    assert response.status == 400
    assert error_of(response)["code"] == "empty_array"


@pytest.mark.parametrize("model", ["gpt-5.4", "gpt-5-mini", "o3", "o4-mini", "o1"])
def test_max_tokens_is_refused_by_reasoning_models(model: str) -> None:
    response = post(make_mock(), chat(model=model, max_tokens=50))
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == "unsupported_parameter"
    assert error["param"] == "max_tokens"
    assert "Use 'max_completion_tokens' instead." in error["message"]
    assert post(make_mock(), chat(model=model, max_completion_tokens=50)).status == 200


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4.1", "gpt-3.5-turbo"])
def test_max_tokens_is_fine_for_other_models(model: str) -> None:
    assert post(make_mock(), chat(model=model, max_tokens=50)).status == 200


def test_context_window_boundary() -> None:
    needed = prompt_tokens(HELLO)
    assert post(make_mock(context_window=needed), chat()).status == 200
    response = post(make_mock(context_window=needed - 1), chat())
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == "context_length_exceeded"
    assert error["param"] == "messages"
    assert f"maximum context length is {needed - 1} tokens" in error["message"]
    assert f"resulted in {needed} tokens" in error["message"]


def test_api_key_required_when_configured() -> None:
    mock = make_mock(api_key="sk-right-key-0001")
    missing = post(mock, chat())
    wrong = post(mock, chat(), headers={"authorization": "Bearer sk-wrong-key-9999"})
    right = post(mock, chat(), headers={"authorization": "Bearer sk-right-key-0001"})
    for response in (missing, wrong):
        assert response.status == 401
        assert error_of(response)["code"] == "invalid_api_key"
    assert "You didn't provide an API key" in error_of(missing)["message"]
    assert "sk-wrong-key-9999" not in error_of(wrong)["message"]  # masked, as the API does
    assert "9999" in error_of(wrong)["message"]
    assert right.status == 200


def test_any_key_or_none_when_not_configured() -> None:
    mock = make_mock()
    assert post(mock, chat()).status == 200
    assert post(mock, chat(), headers={"authorization": "Bearer anything"}).status == 200


def test_unparseable_json() -> None:
    response = post(make_mock(), b'{"model": ')
    assert response.status == 400
    assert "could not parse the JSON body" in error_of(response)["message"]


def test_json_null_is_parsed_not_called_unparseable() -> None:
    response = post(make_mock(), b"null")
    assert response.status == 400
    assert error_of(response)["code"] == "missing_required_parameter"


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nothing"), ("POST", "/v1/completions")])
def test_other_endpoints_are_404(method: str, path: str) -> None:
    response = post(make_mock(), b"", path=path, method=method)
    assert response.status == 404
    assert error_of(response)["message"] == f"Invalid URL ({method} {path})"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", CHAT),
        ("DELETE", CHAT),
        ("OPTIONS", CHAT),
        ("POST", "/v1/models"),
        ("PUT", "/v1/models/gpt-4o"),
    ],
)
def test_a_known_url_with_another_method_is_405(method: str, path: str) -> None:
    response = post(make_mock(), b"", path=path, method=method)
    assert response.status == 405
    assert error_of(response) == {
        "message": f"Invalid method for URL ({method} {path})",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_models_list_and_one_model() -> None:
    mock = make_mock()
    listed = post(mock, b"", path="/v1/models", method="GET")
    assert listed.status == 200
    body = listed.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert "gpt-4o" in ids and "gpt-5.4" in ids
    assert all(set(m) == {"id", "object", "created", "owned_by"} for m in body["data"])
    one = post(mock, b"", path="/v1/models/gpt-4o", method="GET").json()
    assert one == next(m for m in body["data"] if m["id"] == "gpt-4o")
    missing = post(mock, b"", path="/v1/models/gpt-nothing", method="GET")
    assert missing.status == 404
    assert error_of(missing)["code"] == "model_not_found"
    assert error_of(missing)["param"] == "model"


# --- what the API refuses (the table of bad inputs) ------------------------------------


def one(message: Any) -> dict[str, Any]:
    return chat(messages=[message])


C = "messages[0].content"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (one({"role": "user", "content": 42}), "invalid_type", C),
        (one({"role": "user", "content": {"a": 1}}), "invalid_type", C),
        (one({"role": "user", "content": None}), "invalid_type", C),
        (one({"role": "user"}), "missing_required_parameter", C),
        (one({"role": "user", "content": ["hi"]}), "invalid_type", f"{C}[0]"),
        (one({"role": "user", "content": [{"type": "video"}]}), "invalid_value", f"{C}[0].type"),
        (one({"role": "system", "content": [{"type": "image_url"}]}), "invalid_value",
         f"{C}[0].type"),
        (one({"role": "user", "content": [{"type": "text"}]}), "missing_required_parameter",
         f"{C}[0].text"),
        (one({"role": "user", "content": [{"type": "text", "text": 5}]}), "invalid_type",
         f"{C}[0].text"),
        (one({"role": "tool", "content": "42"}), "missing_required_parameter",
         "messages[0].tool_call_id"),
        (one({"role": "assistant", "content": None}), "invalid_type", C),
        (one({"role": "user", "content": "hi", "name": 7}), "invalid_type", "messages[0].name"),
        (chat(messages="hi"), "invalid_type", "messages"),
        (chat(model=4), "invalid_type", "model"),
        (chat(n=0), "integer_below_min_value", "n"),
        (chat(n=129), "integer_above_max_value", "n"),
        (chat(n=1.5), "invalid_type", "n"),
        (chat(max_completion_tokens=-1), "integer_below_min_value", "max_completion_tokens"),
        (chat(max_completion_tokens="100"), "invalid_type", "max_completion_tokens"),
        (chat(stream="yes"), "invalid_type", "stream"),
        (chat(stream=1), "invalid_type", "stream"),
        (chat(temperature=3), "decimal_above_max_value", "temperature"),
        (chat(top_p=-0.5), "decimal_below_min_value", "top_p"),
        (chat(temperature="hot"), "invalid_type", "temperature"),
        (chat(reasoning_effort="extreme"), "invalid_value", "reasoning_effort"),
        (chat(stream_options={"include_usage": True}), "invalid_value", "stream_options"),
    ],
)  # fmt: skip
def test_bad_inputs_are_refused_as_the_api_does(body: Any, code: str, param: str) -> None:
    mock = make_mock()
    response = post(mock, body)
    assert response.status == 400
    error = error_of(response)
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")
    assert f"'{param}'" in error["message"] or error["code"] == "invalid_value"
    assert mock.journal[0].error == error


def test_unknown_parameters_are_refused() -> None:
    response = post(make_mock(), chat(colour="blue"))
    assert response.status == 400
    assert error_of(response) == {
        "message": "Unrecognized request argument supplied: colour",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


@pytest.mark.parametrize(
    "extra",
    [
        {"temperature": None, "n": None, "stop": ["x"], "seed": 3, "user": "u", "store": False},
        {"max_completion_tokens": 5, "top_p": 1, "temperature": 0.5, "presence_penalty": -2},
        {"stream": False, "stream_options": None, "metadata": {"k": "v"}, "tools": []},
    ],
)
def test_documented_parameters_are_accepted(extra: dict[str, Any]) -> None:
    assert post(make_mock(), chat(**extra)).status == 200


@pytest.mark.parametrize(
    "message",
    [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]},
        {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "user", "content": "", "name": "kim"},
    ],
)
def test_every_role_with_its_fields_is_accepted(message: dict[str, Any]) -> None:
    assert post(make_mock(), chat(messages=[message])).status == 200


def test_n_choices() -> None:
    mock = make_mock(replies=FixedReplies(["둘 two"]))
    body = post(mock, chat(n=3)).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert {c["message"]["content"] for c in body["choices"]} == {"둘 two"}
    assert body["usage"]["completion_tokens"] == 3 * tokens("둘 two")
    chunks = sse_chunks(post(mock, chat(n=2, stream=True)))
    for index in (0, 1):
        mine = [c for c in chunks if c["choices"][0]["index"] == index]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in mine) == "둘 two"
        assert mine[-1]["choices"][0]["finish_reason"] == "stop"


def test_authorization_required_when_configured_so() -> None:
    mock = make_mock(require_auth=True)
    missing = post(mock, chat())
    assert missing.status == 401
    assert error_of(missing)["code"] == "invalid_api_key"
    assert post(mock, chat(), headers={"authorization": "Bearer"}).status == 401
    assert post(mock, chat(), headers={"authorization": "Bearer sk-any"}).status == 200


def test_api_headers_on_every_answer() -> None:
    mock = make_mock()
    for response in (post(mock, chat()), post(mock, b"{"), post(mock, chat(stream=True))):
        assert response.headers["x-request-id"].startswith("req_")
        assert int(response.headers["openai-processing-ms"]) >= 0
        assert int(response.headers["x-ratelimit-remaining-requests"]) > 0
        assert "x-ratelimit-limit-tokens" in response.headers
    ids = {e.number for e in mock.journal}
    assert len(ids) == 3


# --- limits the grader relies on ----------------------------------------------------------------


def test_deep_json_is_unparseable_not_a_crash() -> None:
    mock = make_mock()
    for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 65 + b"1" + b"}" * 65):
        response = post(mock, deep)
        assert response.status == 400
        assert "could not parse the JSON body" in error_of(response)["message"]
    assert [e.body for e in mock.journal] == [None, None]


def test_json_depth_limit_is_exact_and_ignores_brackets_in_strings() -> None:
    body = json.dumps(chat(metadata={"deep": '[[[[{{{{ \\" [[' * 50})).encode()
    assert post(make_mock(max_json_depth=3), body).status == 200  # body, messages, a message
    assert post(make_mock(max_json_depth=2), body).status == 400


def test_body_over_the_limit_is_never_parsed_nor_kept() -> None:
    raw = json.dumps(chat()).encode()
    mock = make_mock(max_body_bytes=len(raw) - 1)
    response = post(mock, raw)
    assert response.status == 413
    assert error_of(response)["type"] == "invalid_request_error"
    assert mock.journal[0].body is None
    assert mock.journal[0].status == 413
    assert post(make_mock(max_body_bytes=len(raw)), raw).status == 200
    declared = mock.handle(MockRequest("POST", CHAT, {}, b"", size=35_000_000))
    assert declared.status == 413
    assert "35000000" in error_of(declared)["message"]


def test_default_body_limit_holds_a_million_token_request() -> None:
    assert MockConfig().max_body_bytes >= 8 * 1_000_000


def test_journal_ring_keeps_the_newest_and_numbers_on() -> None:
    mock = make_mock(journal_size=3)
    for _ in range(5):
        post(mock, chat())
    assert [e.number for e in mock.journal] == [3, 4, 5]
    assert mock.count == 5
    assert post(mock, chat()).json()["id"].endswith("000006")
    assert isinstance(make_mock().journal, list)


# --- journal ------------------------------------------------------------------------------------


def test_journal_records_every_request() -> None:
    mock = make_mock(replies=FixedReplies(["one", "two"]), faults={3: Fault("server_error")})
    post(mock, chat(metadata={"case": "a"}))
    post(mock, chat(model="gpt-5.4", max_tokens=5))
    post(mock, chat())
    post(mock, b"{oops")
    post(mock, chat())

    first, refused, faulted, garbled, last = mock.journal
    assert [e.number for e in mock.journal] == [1, 2, 3, 4, 5]
    assert [e.status for e in mock.journal] == [200, 400, 500, 400, 200]
    assert first.method == "POST"
    assert first.path == CHAT
    assert first.body == chat(metadata={"case": "a"})
    assert first.messages == HELLO
    assert first.prompt_tokens == prompt_tokens(HELLO)
    assert first.reply == "one"
    assert first.error is None
    assert first.fault is None
    assert refused.reply is None
    assert refused.error is not None
    assert refused.error["code"] == "unsupported_parameter"
    assert faulted.fault == "server_error"
    assert faulted.error is not None
    assert faulted.error["type"] == "server_error"
    assert garbled.body is None
    assert garbled.messages == []
    assert last.reply == "one"  # replies follow request numbers: 5 is the cycle's first again


def test_journal_error_is_what_the_client_got() -> None:
    mock = make_mock()
    response = post(mock, chat(messages=[{"role": "robot", "content": "x"}]))
    assert mock.journal[0].error == response.json()["error"]


def test_exchange_returns_the_entry_with_the_response() -> None:
    mock = make_mock()
    request = MockRequest("POST", CHAT, {}, json.dumps(chat()).encode())
    entry, response = mock.exchange(request)
    assert entry is mock.journal[0]
    assert entry.status == response.status == 200
    assert response.json()["choices"][0]["message"]["content"] == entry.reply


# --- replies ------------------------------------------------------------------------------------


def test_fixed_replies_cycle() -> None:
    mock = make_mock(replies=FixedReplies(["a", "b", "c"]))
    got = [post(mock, chat()).json()["choices"][0]["message"]["content"] for _ in range(7)]
    assert got == ["a", "b", "c", "a", "b", "c", "a"]


def test_reply_policies_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        FixedReplies([])
    with pytest.raises(ValueError):
        TokenReplies(0)


@settings(max_examples=80, deadline=None)
@given(
    number=st.integers(1, 10**6),
    size=st.integers(1, 120),
    model=st.sampled_from(["gpt-5.4", "gpt-4o", "gpt-3.5-turbo"]),
)
def test_token_replies_are_exact(number: int, size: int, model: str) -> None:
    text = TokenReplies(size).reply(number, model)
    enc = tiktoken.get_encoding("cl100k_base" if model == "gpt-3.5-turbo" else "o200k_base")
    assert len(enc.encode_ordinary(text)) == size
    if size >= len(enc.encode_ordinary(f"Reply {number}.")):
        assert text.startswith(f"Reply {number}.")


def test_token_replies_through_the_mock() -> None:
    mock = make_mock(replies=TokenReplies(25))
    for number in (1, 2, 3):
        body = post(mock, chat()).json()
        assert body["usage"]["completion_tokens"] == 25
        assert body["choices"][0]["message"]["content"].startswith(f"Reply {number}.")


# --- faults -------------------------------------------------------------------------------------


def test_rate_limit_fault_then_normal() -> None:
    mock = make_mock(faults={2: Fault("rate_limit", retry_after_ms=250)})
    assert post(mock, chat()).status == 200
    limited = post(mock, chat())
    assert limited.status == 429
    assert limited.headers["retry-after-ms"] == "250"
    error = error_of(limited)
    assert error["code"] == "rate_limit_exceeded"
    assert "gpt-4o" in error["message"]
    assert post(mock, chat()).status == 200
    assert [e.fault for e in mock.journal] == [None, "rate_limit", None]


def test_server_error_fault() -> None:
    mock = make_mock(faults={1: Fault("server_error")})
    response = post(mock, chat())
    assert response.status == 500
    assert error_of(response)["type"] == "server_error"


def test_timeout_fault_carries_its_hold() -> None:
    mock = make_mock(faults={1: Fault("timeout", seconds=0.25)})
    response = post(mock, chat())
    assert response.timeout == 0.25
    assert mock.journal[0].fault == "timeout"
    assert post(mock, chat()).timeout is None


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"{broken", b""])
def test_faults_apply_whatever_the_body(body: bytes) -> None:
    """A fault is scripted by number; an odd body must not turn it into a crash."""
    mock = make_mock(faults={1: Fault("rate_limit")})
    assert post(mock, body).status == 429


def test_unknown_fault_kind() -> None:
    with pytest.raises(ValueError):
        Fault("meltdown")  # type: ignore[arg-type]


# --- threads ------------------------------------------------------------------------------------


def test_concurrent_requests_get_distinct_numbers() -> None:
    mock = make_mock(replies=TokenReplies(8))
    start = threading.Barrier(4)
    replies: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait(timeout=10)
        for _ in range(5):
            text = post(mock, chat()).json()["choices"][0]["message"]["content"]
            with lock:
                replies.append(text)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(e.number for e in mock.journal) == list(range(1, 21))
    assert sorted(replies) == sorted(e.reply for e in mock.journal)
    assert len(set(replies)) == 20
