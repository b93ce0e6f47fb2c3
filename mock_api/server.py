"""The mock as a real HTTP server on loopback, for any program that honours OPENAI_BASE_URL."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mock_api.core import ChatCompletionsMock, JournalEntry, MockRequest

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
        if self.journal_file is None:
            return
        with self._journal_lock, self.journal_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="mock-openai", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class MockRequestHandler(BaseHTTPRequestHandler):
    server: MockServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "request body too large")
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = MockRequest(self.command, self.path.split("?", 1)[0], headers, body)
        entry, response = self.server.mock.exchange(request)
        self.server.record(entry)
        if response.timeout is not None:
            # Hold the connection past the client's timeout; give up early on shutdown.
            self.server.closing.wait(response.timeout)
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
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
    """Serve until Ctrl-C or SIGTERM."""
    # A shell's background job starts with SIGINT ignored; take it back so Ctrl-C still stops us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = MockServer(mock, host, port, journal_file)
    if on_ready:
        on_ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.closing.set()
        server.server_close()
