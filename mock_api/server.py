"""The mock as a real HTTP server on loopback, for any program that honours OPENAI_BASE_URL."""

from __future__ import annotations

import json
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mock_api import errors
from mock_api.core import (
    ChatCompletionsMock,
    JournalEntry,
    MockRequest,
    MockResponse,
    json_response,
)
from mock_api.errors import APIError

MAX_BODY = 64 * 1024 * 1024


class MockServer(ThreadingHTTPServer):
    """Serves a ChatCompletionsMock; ``journal_file`` gets one JSON line per request."""

    daemon_threads = True

    def __init__(
        self,
        mock: ChatCompletionsMock,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_file: Path | None = None,
    ) -> None:
        self.mock = mock
        self.journal_file = journal_file
        self.closing = threading.Event()
        self._journal_lock = threading.Lock()
        super().__init__((host, port), MockRequestHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def record(self, entry: JournalEntry) -> None:
        """Append the entry; a failing disk is reported, but must not cost the client its answer."""
        if self.journal_file is None:
            return
        line = json.dumps(asdict(entry), ensure_ascii=False) + "\n"
        try:
            with self._journal_lock, self.journal_file.open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            print(f"mock-openai: cannot write journal {self.journal_file}: {exc}", file=sys.stderr)

    def start_in_thread(self, poll_interval: float = 0.05) -> threading.Thread:
        """Serve from a daemon thread; a short poll keeps ``stop`` quick (it waits one poll)."""
        thread = threading.Thread(
            target=self.serve_forever, args=(poll_interval,), name="mock-openai", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop a server started with ``start_in_thread`` (from another thread)."""
        self.closing.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up (its own timeout, Ctrl-C) is routine, not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class MockRequestHandler(BaseHTTPRequestHandler):
    server: MockServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._serve()

    # Every other method reaches the core too, which answers the API's 404 envelope.
    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = MockRequest(self.command, self.path.split("?", 1)[0], headers, body)
        try:
            entry, response = self.server.mock.exchange(request)
        except Exception:
            # A bug in the mock: answer like the API's 500, keep the traceback for its author.
            traceback.print_exc()
            self._send(json_response(500, errors.server_error().envelope()))
            return
        self.server.record(entry)
        if response.timeout is not None:
            # Hold the connection past the client's timeout; give up early on shutdown.
            self.server.closing.wait(response.timeout)
            self.close_connection = True
            return
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering a request whose body cannot be read.

        Without a usable Content-Length the rest of the connection cannot be parsed, so those
        answers close it; a negative length would otherwise block reading until the client quits.
        """
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._reject(411, "Requests must have a Content-Length header.")
        raw = self.headers.get("content-length") or "0"
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            return self._reject(400, f"Invalid Content-Length header: {raw!r}.")
        if length > MAX_BODY:
            return self._reject(413, f"Request body too large: {length} bytes, limit {MAX_BODY}.")
        return self.rfile.read(length) if length else b""

    def _reject(self, status: int, message: str) -> None:
        self.close_connection = True
        envelope = APIError(status, message).envelope()
        self._send(json_response(status, envelope), close=True)
        return None

    def _send(self, response: MockResponse, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        if close:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(
    mock: ChatCompletionsMock,
    host: str,
    port: int,
    journal_file: Path | None = None,
    on_ready: Callable[[MockServer], None] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then return normally.

    Must run in the main thread (it installs signal handlers, and restores them on return).
    """
    # A shell's background job starts with SIGINT ignored; take it back so Ctrl-C still stops us.
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in signals}
    server: MockServer | None = None
    try:
        server = MockServer(mock, host, port, journal_file)
        # on_ready prints the URL: a signal may arrive as soon as it does, so it runs in here.
        if on_ready:
            on_ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.closing.set()
            server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
