"""The mock served on loopback: in a thread for speed, and as the real ``mock-openai serve``.

Every socket here is 127.0.0.1. Clients find the server the way a student's program does,
through OPENAI_BASE_URL, and are the official SDK unless a test needs raw HTTP.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner
from openai import AsyncOpenAI, OpenAI

from mock_api import ChatCompletionsMock, Fault, FixedReplies, MockConfig, TokenReplies
from mock_api.cli import DEFAULT_PORT, main
from mock_api.limits import ServerLimits
from mock_api.server import MockServer

pytestmark = [pytest.mark.openai_compat, pytest.mark.usefixtures("openai_env")]

HELLO: list[Any] = [{"role": "user", "content": "안녕하세요? 👋🏽"}]
CHAT = "/v1/chat/completions"
START_TIMEOUT = 20.0  # seconds for a subprocess to print its URL; normally well under one


# --- a server in a thread -----------------------------------------------------------------------


@pytest.fixture
def serve_mock(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., tuple[MockServer, ChatCompletionsMock]]]:
    """Start a MockServer on 127.0.0.1:0 and point OPENAI_BASE_URL at it."""
    servers: list[MockServer] = []

    def start(
        config: MockConfig | None = None,
        journal_file: Path | None = None,
        limits: ServerLimits | None = None,
    ) -> tuple[MockServer, ChatCompletionsMock]:
        mock = ChatCompletionsMock(config)
        running = MockServer(mock, "127.0.0.1", 0, journal_file, limits)
        running.start_in_thread()
        servers.append(running)
        monkeypatch.setenv("OPENAI_BASE_URL", running.base_url)
        return running, mock

    yield start
    for running in servers:
        running.stop()


def raw_request(
    running: MockServer,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request over a plain http.client connection, for what the SDK would never send."""
    host, port = running.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=5)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if headers is None or not any(
            k.lower() in ("content-length", "transfer-encoding") for k in headers
        ):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_sdk_reaches_the_server_through_base_url(serve_mock: Callable[..., Any]) -> None:
    running, mock = serve_mock(MockConfig(replies=FixedReplies(["반가워요! 🙂"])))
    assert running.base_url.startswith("http://127.0.0.1:")
    completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "반가워요! 🙂"
    assert completion.object == "chat.completion"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == mock.journal[0].prompt_tokens
    assert mock.journal[0].path == CHAT


def test_stream_over_http(serve_mock: Callable[..., Any]) -> None:
    reply = "스트리밍 테스트: 하나, 둘, 셋 🚀🇰🇷"
    _, mock = serve_mock(MockConfig(replies=FixedReplies([reply])))
    stream = OpenAI().chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert mock.journal[0].reply == reply


def test_async_stream_over_http(serve_mock: Callable[..., Any]) -> None:
    _, mock = serve_mock(MockConfig(replies=TokenReplies(30)))

    async def ask() -> str:
        stream = await AsyncOpenAI().chat.completions.create(
            model="gpt-5.4", messages=HELLO, stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(ask()) == mock.journal[0].reply


def test_errors_over_http(serve_mock: Callable[..., Any], openai_env: str) -> None:
    serve_mock(MockConfig(api_key=openai_env))
    client = OpenAI()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="o3", messages=HELLO, max_tokens=10)
    assert refused.value.body == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    with pytest.raises(openai.AuthenticationError) as denied:
        OpenAI(api_key="sk-not-the-key-0000").chat.completions.create(
            model="gpt-4o", messages=HELLO
        )
    assert denied.value.status_code == 401
    assert denied.value.code == "invalid_api_key"


def test_rate_limit_retried_over_http(serve_mock: Callable[..., Any]) -> None:
    _, mock = serve_mock(MockConfig(faults={1: Fault("rate_limit", retry_after_ms=100)}))
    completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
    assert [e.status for e in mock.journal] == [429, 200]
    assert completion.choices[0].message.content == mock.journal[1].reply


def test_timeout_over_http(serve_mock: Callable[..., Any]) -> None:
    _, mock = serve_mock(MockConfig(faults={1: Fault("timeout", seconds=3)}))
    client = OpenAI(timeout=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert 0.4 < time.monotonic() - started < 2.5  # the client's 0.5 s, not the 3 s hold
    assert mock.journal[0].fault == "timeout"
    assert client.chat.completions.create(model="gpt-4o", messages=HELLO).choices


def test_twenty_requests_from_four_threads(serve_mock: Callable[..., Any], tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    _, mock = serve_mock(MockConfig(replies=TokenReplies(10)), journal_file=journal)
    client = OpenAI()

    def ask(_: int) -> str:
        completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
        return completion.choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(ask, range(20), timeout=60))
    assert sorted(e.number for e in mock.journal) == list(range(1, 21))
    assert len(set(replies)) == 20
    numbers = sorted(int(re.match(r"Reply (\d+)\.", text).group(1)) for text in replies)  # type: ignore[union-attr]
    assert numbers == list(range(1, 21))
    lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["number"] for line in lines) == list(range(1, 21))


def test_journal_file_lines(serve_mock: Callable[..., Any], tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    _, mock = serve_mock(
        MockConfig(replies=FixedReplies(["예"]), faults={2: Fault("server_error")}), journal
    )
    client = OpenAI(max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=HELLO)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    first, second = (json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines())
    assert first["number"] == 1
    assert first["status"] == 200
    assert first["body"]["messages"] == HELLO  # Korean and emoji kept as text
    assert first["prompt_tokens"] == mock.journal[0].prompt_tokens
    assert first["reply"] == "예"
    assert first["error"] is None
    assert second["status"] == 500
    assert second["fault"] == "server_error"
    assert second["error"]["type"] == "server_error"
    assert "예" in journal.read_text(encoding="utf-8")


def test_unwritable_journal_does_not_cost_the_answer(
    serve_mock: Callable[..., Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    serve_mock(journal_file=tmp_path)  # a directory: every append fails
    assert OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO).choices
    assert "cannot write journal" in capfd.readouterr().err


def test_a_bug_in_the_mock_is_a_500_envelope(
    serve_mock: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, mock = serve_mock()

    def broken(request: Any) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(mock, "exchange", broken)
    with pytest.raises(openai.InternalServerError) as caught:
        OpenAI(max_retries=0).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.type == "server_error"
    assert "RuntimeError: simulated bug" in capfd.readouterr().err


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/v1/nothing", 404, "Invalid URL (GET /v1/nothing)"),
        ("PUT", "/x", 404, "Invalid URL (PUT /x)"),
        ("DELETE", CHAT, 405, f"Invalid method for URL (DELETE {CHAT})"),
        ("OPTIONS", CHAT, 405, f"Invalid method for URL (OPTIONS {CHAT})"),
        ("PATCH", "/v1/models", 405, "Invalid method for URL (PATCH /v1/models)"),
    ],
)
def test_other_requests_get_the_api_envelope(
    serve_mock: Callable[..., Any], method: str, path: str, status: int, message: str
) -> None:
    running, mock = serve_mock()
    got, headers, body = raw_request(running, method, path)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"].startswith("req_")
    assert json.loads(body)["error"] == {
        "message": message,
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert mock.journal[0].status == status


def test_models_over_http(serve_mock: Callable[..., Any]) -> None:
    serve_mock()
    client = OpenAI()
    assert "gpt-4o" in [m.id for m in client.models.list()]
    assert client.models.retrieve("gpt-5.4").id == "gpt-5.4"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-nothing")
    assert missing.value.code == "model_not_found"


def test_head_is_answered_without_a_body(serve_mock: Callable[..., Any]) -> None:
    running, _ = serve_mock()
    status, headers, body = raw_request(running, "HEAD", "/v1/models")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


def test_authorization_is_required_unless_told_otherwise(serve_mock: Callable[..., Any]) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": HELLO}).encode()
    strict, _ = serve_mock(MockConfig(require_auth=True))
    status, _, answer = raw_request(strict, "POST", CHAT, body)
    assert status == 401
    assert json.loads(answer)["error"]["code"] == "invalid_api_key"
    status, _, _ = raw_request(strict, "POST", CHAT, body, {"Authorization": "Bearer sk-x"})
    assert status == 200
    lenient, _ = serve_mock(MockConfig(require_auth=False))
    assert raw_request(lenient, "POST", CHAT, body)[0] == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Length": "abc"}, 400),
        ({"Content-Length": "-5"}, 400),
        ({"Content-Length": "1", "Transfer-Encoding": "chunked"}, 400),
    ],
)
def test_malformed_http_gets_the_envelope_and_a_closed_connection(
    serve_mock: Callable[..., Any], headers: dict[str, str], status: int
) -> None:
    running, mock = serve_mock()
    started = time.monotonic()
    got, got_headers, body = raw_request(running, "POST", CHAT, b"", headers)
    assert time.monotonic() - started < 2
    assert got == status
    assert got_headers["connection"] == "close"
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}
    assert len(mock.journal) == 0  # never reached the mock


def test_oversized_body_is_refused_unread(serve_mock: Callable[..., Any]) -> None:
    running, mock = serve_mock()
    started = time.monotonic()
    got, headers, body = raw_request(running, "POST", CHAT, b"", {"Content-Length": "999999999999"})
    assert time.monotonic() - started < 2  # not waiting for a body that never comes
    assert got == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    [entry] = mock.journal
    assert (entry.status, entry.body) == (413, None)


def test_chunked_bodies_are_read(serve_mock: Callable[..., Any]) -> None:
    running, mock = serve_mock()
    body = json.dumps({"model": "gpt-4o", "messages": HELLO}).encode()
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
        + b"0\r\n\r\n"
    )
    status, _, answer = raw_request(
        running, "POST", CHAT, chunked, {"Transfer-Encoding": "chunked"}
    )
    assert status == 200, answer
    assert mock.journal[0].messages == HELLO


def test_body_limit(serve_mock: Callable[..., Any]) -> None:
    running, mock = serve_mock(MockConfig(max_body_bytes=100))
    status, _, _ = raw_request(running, "POST", CHAT, b"x" * 101)
    assert status == 413
    status, _, _ = raw_request(running, "POST", CHAT, json.dumps({"model": "gpt-4o"}).encode())
    assert status == 400  # under the limit: read and answered by the core
    assert mock.journal[0].body is None
    assert mock.journal[1].body == {"model": "gpt-4o"}


def test_keep_alive_serves_several_requests(serve_mock: Callable[..., Any]) -> None:
    running, mock = serve_mock()
    host, port = running.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=5)
    body = json.dumps({"model": "gpt-4o", "messages": HELLO})
    try:
        for _ in range(3):
            conn.request("POST", CHAT, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200
            response.read()
    finally:
        conn.close()
    assert [e.number for e in mock.journal] == [1, 2, 3]


# --- the real command ---------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(extra)
    return env


def mock_openai_command() -> list[str]:
    script = Path(sys.executable).parent / "mock-openai"
    assert script.exists(), f"{script} missing: install the package (pip install -e .)"
    return [str(script)]


class Served:
    """A running ``mock-openai serve`` and what it has printed so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.printed: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.url = self._wait_for_url()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _wait_for_url(self) -> str:
        found = re.search(
            r"listening on (http://127\.0\.0\.1:\d+/v1)\b", self.read_until("listening on")
        )
        assert found, self.printed
        return found.group(1)

    def read_until(self, text: str) -> str:
        """The first printed line containing ``text``, waiting for it (bounded)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.printed.append(line)
            if text in line:
                return line
        self.proc.kill()
        _, err = self.proc.communicate(timeout=10)
        raise AssertionError(f"{text!r} never printed; stdout {self.printed!r}, stderr {err!r}")

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        """Signal it, wait (bounded) and return exit code, all stdout and stderr."""
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError("mock-openai did not stop within 10 s") from None
        self.reader.join(timeout=10)
        while True:
            line = self.lines.get(timeout=1)
            if line is None:
                break
            self.printed.append(line)
        assert self.proc.stderr is not None
        return self.proc.returncode, "\n".join(self.printed), self.proc.stderr.read()


@contextmanager
def mock_openai(*args: str) -> Iterator[Served]:
    proc = subprocess.Popen(
        [*mock_openai_command(), "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=child_env(),
    )
    try:
        yield Served(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_command_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal.jsonl"
    key = "sk-cli-key-0123456789"
    with mock_openai(
        "--reply", "안녕하세요 👋🏽", "--reply", "second",
        "--api-key", key,
        "--journal", str(journal),
        "--fault", "2:rate_limit:50",
        "--fault", "4:timeout:5",
    ) as served:  # fmt: skip
        assert served.read_until("OPENAI_BASE_URL") == f"  export OPENAI_BASE_URL={served.url}"
        assert served.read_until("OPENAI_API_KEY") == f"  export OPENAI_API_KEY={key}"
        monkeypatch.setenv("OPENAI_BASE_URL", served.url)
        monkeypatch.setenv("OPENAI_API_KEY", key)
        client = OpenAI()

        first = client.chat.completions.create(model="gpt-4o", messages=HELLO)  # 1
        retried = client.chat.completions.create(model="gpt-4o", messages=HELLO)  # 2 (429), 3
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):  # 4, held 5 s; the client gives up at 0.5
            client.with_options(timeout=0.5, max_retries=0).chat.completions.create(
                model="gpt-4o", messages=HELLO
            )
        assert time.monotonic() - started < 2.5
        with pytest.raises(openai.AuthenticationError):  # 5
            OpenAI(api_key="sk-wrong").chat.completions.create(model="gpt-4o", messages=HELLO)
        stream = client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)  # 6
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

        code, stdout, stderr = served.stop()  # while request 4 is still held

    assert first.choices[0].message.content == "안녕하세요 👋🏽"
    assert retried.choices[0].message.content == "안녕하세요 👋🏽"  # request 3: the cycle again
    assert streamed == "second"
    assert code == 0, stderr
    assert stdout.splitlines()[-1] == "mock-openai stopped"
    assert "Traceback" not in stderr
    lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert [(e["number"], e["status"], e["fault"]) for e in lines] == [
        (1, 200, None),
        (2, 429, "rate_limit"),
        (3, 200, None),
        (4, 504, "timeout"),
        (5, 401, None),
        (6, 200, None),
    ]
    assert lines[0]["body"]["messages"] == HELLO
    assert lines[0]["reply"] == "안녕하세요 👋🏽"
    assert lines[4]["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_right_after_printing_its_url(sig: int) -> None:
    """The signal may land while the banner is still being printed: still a clean stop."""
    with mock_openai() as served:
        code, stdout, stderr = served.stop(sig)
    assert code == 0, stderr
    assert "mock-openai stopped" in stdout
    assert "Traceback" not in stderr


def test_default_replies_and_any_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_openai("--reply-tokens", "7") as served:
        assert served.read_until("OPENAI_API_KEY") == "  export OPENAI_API_KEY=sk-mock-openai"
        monkeypatch.setenv("OPENAI_BASE_URL", served.url)
        completion = OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO)
        code, _, stderr = served.stop()
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 7
    assert (completion.choices[0].message.content or "").startswith("Reply 1.")
    assert code == 0, stderr


def post_without_key(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    found = re.match(r"http://([\d.]+):(\d+)/v1", url)
    assert found
    conn = http.client.HTTPConnection(found.group(1), int(found.group(2)), timeout=10)
    try:
        conn.request("POST", CHAT, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_command_requires_authorization_unless_no_auth() -> None:
    chat = {"model": "gpt-4o", "messages": HELLO}
    with mock_openai() as served:
        status, body = post_without_key(served.url, chat)
        served.stop()
    assert status == 401
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
    with mock_openai(
        "--no-auth", "--reply", "a b c d e f g h i j", "--stream-delay-ms", "100"
    ) as served:
        status, _ = post_without_key(served.url, chat)
        started = time.monotonic()
        status_stream, streamed = post_without_key(served.url, {**chat, "stream": True})
        took = time.monotonic() - started
        served.stop()
    assert (status, status_stream) == (200, 200)
    events = streamed.count(b"data: ")
    assert events >= 4
    assert took > 0.1 * (events - 2) * 0.8  # the delay between events is applied


def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*mock_openai_command(), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env=child_env(),
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr  # the next step
    assert "Traceback" not in result.stderr


@contextmanager
def default_port_taken() -> Iterator[None]:
    """Hold 127.0.0.1:8808, unless something else (another user's mock) already does."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", DEFAULT_PORT))
        holder.listen()
    except OSError:
        pass  # already taken: just as good
    try:
        yield
    finally:
        holder.close()


def test_taken_default_port_moves_to_a_free_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second student on a shared server: the default port is busy, so another is used."""
    with default_port_taken():
        proc = subprocess.Popen(
            [*mock_openai_command(), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=child_env(),
        )
        try:
            served = Served(proc)
            exported = served.read_until("OPENAI_BASE_URL")
            monkeypatch.setenv("OPENAI_BASE_URL", served.url)
            assert OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO).choices
            code, _, stderr = served.stop()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert f":{DEFAULT_PORT}/" not in served.url
    assert exported == f"  export OPENAI_BASE_URL={served.url}"
    assert f"port {DEFAULT_PORT} is taken" in stderr
    assert code == 0, stderr


def test_dash_h_is_help() -> None:
    for args in (["-h"], ["serve", "-h"], ["conformance", "-h"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--port", "70000"], "--port"),
        (["--port", "eighty"], "--port"),
        (["--fault", "0:rate_limit"], "--fault"),
        (["--fault", "3"], "--fault"),
        (["--fault", "3:explode"], "--fault"),
        (["--fault", "3:timeout:-1"], "--fault"),
        (["--fault", "3:timeout:inf"], "--fault"),
        (["--fault", "3:rate_limit:soon"], "--fault"),
        (["--fault", "3:server_error:5"], "--fault"),
        (["--reply-tokens", "0"], "--reply-tokens"),
        (["--context-window", "0"], "--context-window"),
        (["--journal", "DIR"], "--journal"),
        (["--journal", "DIR/missing/journal.jsonl"], "--journal"),
        (["--colour", "blue"], "--colour"),
        (["--journal-size", "0"], "--journal-size"),
        (["--stream-delay-ms", "-1"], "--stream-delay-ms"),
        (["--max-body-bytes", "0"], "--max-body-bytes"),
        (["--idle-timeout", "0"], "--idle-timeout"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], complaint: str, tmp_path: Path) -> None:
    args = [a.replace("DIR", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "error:" in result.output
    assert complaint in result.output


def test_bad_option_from_the_real_command() -> None:
    result = subprocess.run(
        [*mock_openai_command(), "serve", "--fault", "3:explode"],
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
    )
    assert result.returncode == 2
    assert "Usage: mock-openai serve" in result.stderr
    assert "Invalid value for '--fault'" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_api", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
    )
    assert result.returncode == 0
    assert "Usage: mock-openai serve" in result.stdout
    assert "--fault N:KIND[:VALUE]" in result.stdout
