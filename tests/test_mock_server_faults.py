"""The served mock under load and abuse: slow clients, clients that leave mid-stream, oversized
bodies, deep JSON, many connections. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from mock_api import ChatCompletionsMock, FixedReplies, MockConfig, TokenReplies
from mock_api.limits import ServerLimits
from mock_api.server import MockServer

pytestmark = pytest.mark.usefixtures("openai_env")

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "안녕하세요?"}]
BODY = json.dumps({"model": "gpt-4o", "messages": HELLO}).encode()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MockServer]]:
    servers: list[MockServer] = []

    def start(
        config: MockConfig | None = None,
        journal_file: Path | None = None,
        **limits: Any,
    ) -> MockServer:
        running = MockServer(
            ChatCompletionsMock(config), "127.0.0.1", 0, journal_file, ServerLimits(**limits)
        )
        running.start_in_thread()
        servers.append(running)
        monkeypatch.setenv("OPENAI_BASE_URL", running.base_url)
        return running

    yield start
    for running in servers:
        running.stop()


def connect(running: MockServer, timeout: float = 5) -> socket.socket:
    return socket.create_connection(running.server_address, timeout=timeout)


def request_bytes(body: bytes = BODY, path: str = CHAT) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Content-Type: application/json\r\n\r\n" + body


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (after any answer) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of one answer, read by its Content-Length (within 5 s a read)."""
    sock.settimeout(5)
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    sock.settimeout(5)
    for _ in range(1_000):  # bounded: each read waits at most 5 s
        chunk = sock.recv(65536)
        data += chunk
        if marker in data or not chunk:
            break
    return data


def ask(running: MockServer) -> int:
    """One request on a new connection; its status."""
    conn = http.client.HTTPConnection(*running.server_address, timeout=10)
    try:
        conn.request("POST", CHAT, BODY, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# --- slow clients -------------------------------------------------------------------------------


def test_headers_that_trickle_in_are_cut_off_while_others_are_served(
    serve: Callable[..., MockServer],
) -> None:
    running = serve(header_timeout=0.5, idle_timeout=5)
    stalled = [connect(running) for _ in range(20)]
    for sock in stalled:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    trickler = connect(running)
    started = time.monotonic()
    closed = False
    for _ in range(40):  # a byte every 0.1 s does not keep it open: at most 4 s
        try:
            trickler.sendall(b"a")
        except OSError:
            closed = True
            break
        if closed_within(trickler, 0.1):
            closed = True
            break
    assert closed
    assert time.monotonic() - started < 2.5  # the 0.5 s header timeout, not the 5 s idle one
    assert ask(running) == 200  # served meanwhile
    assert all(closed_within(sock, 3) for sock in stalled)
    for sock in [*stalled, trickler]:
        sock.close()


def test_idle_connections_are_closed(serve: Callable[..., MockServer]) -> None:
    running = serve(idle_timeout=0.5)
    silent = [connect(running) for _ in range(50)]
    after_answer = connect(running)
    after_answer.sendall(request_bytes())
    assert ask(running) == 200
    assert all(closed_within(sock, 4) for sock in [*silent, after_answer])
    for sock in [*silent, after_answer]:
        sock.close()


def test_a_body_that_never_finishes_gets_408(serve: Callable[..., MockServer]) -> None:
    running = serve(body_timeout=0.5)
    sock = connect(running)
    sock.sendall(request_bytes()[:-5])  # headers promise 5 bytes more than sent
    started = time.monotonic()
    status, data = read_response(sock)
    sock.close()
    assert status == 408
    assert time.monotonic() - started < 3
    assert b'"error"' in data
    assert ask(running) == 200


# --- clients that leave mid-stream --------------------------------------------------------------


def test_clients_leaving_mid_stream_do_not_hurt_the_server(
    serve: Callable[..., MockServer],
) -> None:
    running = serve(MockConfig(replies=TokenReplies(200)), stream_delay_ms=20)
    body = json.dumps({"model": "gpt-4o", "messages": HELLO, "stream": True}).encode()
    leavers = [connect(running) for _ in range(20)]
    for sock in leavers:
        sock.sendall(request_bytes(body))
    for sock in leavers:
        assert b"data: " in read_until(sock, b"data: ")  # the stream has begun
        sock.close()
    assert ask(running) == 200
    deadline = time.monotonic() + 5
    while running.web_server and running.web_server.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.web_server is not None
    assert running.web_server.connections == []  # every abandoned stream was cleaned up
    assert [e.status for e in running.mock.journal] == [200] * 21


def test_stream_arrives_event_by_event(serve: Callable[..., MockServer]) -> None:
    reply = "one two three four five six seven eight nine ten eleven twelve thirteen"
    serve(MockConfig(replies=FixedReplies([reply])), stream_delay_ms=100)
    arrivals: list[float] = []
    pieces: list[str] = []
    started = time.monotonic()
    for chunk in OpenAI().chat.completions.create(model="gpt-4o", messages=HELLO, stream=True):
        arrivals.append(time.monotonic() - started)
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert "".join(pieces) == reply
    assert len(arrivals) >= 5
    # Each event came on its own, about 100 ms apart, not all at once at the end.
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) > 0.05
    assert arrivals[-1] - arrivals[0] > 0.05 * (len(arrivals) - 1)


# --- oversized bodies and deep JSON -------------------------------------------------------------


def test_oversized_bodies_are_refused_and_not_kept(serve: Callable[..., MockServer]) -> None:
    running = serve(MockConfig(max_body_bytes=10_000))
    for _ in range(5):
        sock = connect(running)
        head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Length: 35000000\r\n\r\n"
        sock.sendall(head.encode() + b"[" * 1000)
        status, data = read_response(sock)
        sock.close()
        assert status == 413
        assert b"request_too_large" in data
    chunked = connect(running)
    chunked.sendall(
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    for _ in range(3):  # 12 KB in three chunks: over the 10 KB limit
        chunked.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
    status, _ = read_response(chunked)
    assert closed_within(chunked, 5)  # after draining what the client sent, briefly
    chunked.close()
    assert status == 413
    assert [(e.status, e.body) for e in running.mock.journal] == [(413, None)] * 6
    assert ask(running) == 200


@pytest.mark.parametrize("depth", [65, 1_000, 100_000])
def test_deep_json_is_a_400_and_the_server_stays_up(
    serve: Callable[..., MockServer], depth: int, capfd: pytest.CaptureFixture[str]
) -> None:
    running = serve()
    sock = connect(running)
    sock.sendall(request_bytes(b"[" * depth + b"]" * depth).replace(b"HTTP/1.1", b"HTTP/1.0"))
    status, data = read_response(sock)
    sock.close()
    assert status == 400
    assert b"could not parse the JSON body" in data
    assert ask(running) == 200
    assert "Traceback" not in capfd.readouterr().err


# --- many clients -------------------------------------------------------------------------------


def test_many_clients_on_new_connections(serve: Callable[..., MockServer], tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    running = serve(MockConfig(replies=TokenReplies(5), journal_size=50), journal)
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda _: ask(running), range(300), timeout=120))
    assert statuses == [200] * 300
    assert running.mock.count == 300
    assert [e.number for e in running.mock.journal] == sorted(
        e.number for e in running.mock.journal
    )
    assert len(running.mock.journal) == 50  # the ring in memory ...
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["number"] for line in lines) == list(range(1, 301))  # ... all


def test_keep_alive_connections_have_tcp_nodelay(serve: Callable[..., MockServer]) -> None:
    running = serve()
    conn = http.client.HTTPConnection(*running.server_address, timeout=5)
    try:
        for _ in range(3):
            conn.request("POST", CHAT, BODY, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        assert running.web_server is not None
        [protocol] = running.web_server.connections  # the same connection, kept alive
        assert protocol.transport is not None
        sock = protocol.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()
