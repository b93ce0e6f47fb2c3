"""The mock as a real HTTP server on loopback, for any program that honours OPENAI_BASE_URL.

Built on aiohttp's low-level server: its C HTTP parser, keep-alive, chunked streaming and
per-connection protocol objects. We add what it lacks: a timeout for headers that trickle in,
the API's JSON error envelope for malformed HTTP, and a body limit enforced before reading.
Only this module imports aiohttp, so the in-process path never pays for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from mock_api import errors
from mock_api.core import ChatCompletionsMock, JournalEntry, MockRequest, MockResponse
from mock_api.errors import APIError
from mock_api.limits import ServerLimits

# Bodies up to this size are answered on the event loop; larger ones (whose token count
# takes a while) in a worker thread, so one big request does not stall every other client.
INLINE_BODY_BYTES = 64 * 1024


class MockProtocol(RequestHandler):
    """One connection: aiohttp's handler, plus our idle and header timeouts and enveloped HTTP
    errors. The timeouts are ours, not only aiohttp's keep-alive, because older aiohttp versions
    never time out a connection that has not sent a first request."""

    def __init__(
        self, *args: Any, idle_timeout: float, header_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.timer: asyncio.TimerHandle | None = None
        self.awaiting_headers = False  # the timer running is the header timer
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.wait(self.idle_timeout)

    def wait(self, seconds: float, headers: bool = False) -> None:
        """(Re)arm the one timer: no request in progress when it fires closes the connection."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self.expired)
        self.awaiting_headers = headers

    def expired(self) -> None:
        self.timer = None
        if not self.busy:
            self.force_close()

    def data_received(self, data: bytes) -> None:
        # Bytes while no request is in progress start the next request's headers: time them.
        if not self.busy and not self.awaiting_headers:
            self.wait(self.header_timeout, headers=True)
        super().data_received(data)

    def request_started(self) -> None:
        self.busy = True
        self.awaiting_headers = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def request_finished(self) -> None:
        self.busy = False
        if self.transport is not None:
            self.wait(self.idle_timeout)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        super().connection_lost(exc)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Malformed HTTP (bad request line, oversized headers): the API's envelope, not HTML."""
        text = str(getattr(exc, "message", None) or message or "it could not be parsed")
        error = APIError(status, f"Bad HTTP request: {text.splitlines()[0].strip()}")
        response = web.Response(
            status=status,
            body=json.dumps(error.envelope()).encode(),
            content_type="application/json",
            headers={"connection": "close"},
        )
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        pass  # a client's malformed request is answered above; no traceback for it


class MockWebServer(web.Server):
    """aiohttp's low-level server, making a MockProtocol for each connection."""

    def __init__(self, handler: Any, limits: ServerLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self.protocol_kwargs = kwargs

    def __call__(self) -> RequestHandler:
        return MockProtocol(
            self,
            loop=asyncio.get_running_loop(),
            idle_timeout=self.limits.idle_timeout,
            header_timeout=self.limits.header_timeout,
            **self.protocol_kwargs,
        )


class MockServer:
    """Serves a ChatCompletionsMock; ``journal_file`` gets one JSON line per request.

    The socket is bound in the constructor (a busy port raises ``OSError`` there), so
    ``base_url`` is known before serving starts.
    """

    def __init__(
        self,
        mock: ChatCompletionsMock,
        host: str = "127.0.0.1",
        port: int = 0,
        journal_file: Path | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        self.mock = mock
        self.journal_file = journal_file
        self.limits = limits or ServerLimits()
        self.socket = bind(host, port)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self._journal_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mock-openai")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.web_server: MockWebServer | None = None  # while running: its connections

    @property
    def base_url(self) -> str:
        host, port = self.server_address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/v1"

    # --- running --------------------------------------------------------------------------

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until ``request_stop``; then let requests in progress finish briefly."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        limits = self.limits
        server = MockWebServer(
            self.handle,
            limits,
            keepalive_timeout=limits.idle_timeout,
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            lingering_time=limits.lingering_time,
            access_log=None,
        )
        runner = web.ServerRunner(server, shutdown_timeout=limits.shutdown_grace)
        await runner.setup()
        self.web_server = server
        site = web.SockSite(runner, self.socket, backlog=limits.backlog)
        await site.start()
        try:
            if on_ready is not None:
                on_ready()
            await self._stop.wait()
        finally:
            await runner.cleanup()
            self._executor.shutdown(wait=False, cancel_futures=True)

    def request_stop(self) -> None:
        """Ask a running server to stop; safe from any thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def start_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (for tests); returns once it accepts connections."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self.run(on_ready=ready.set))
            except BaseException as exc:  # reported to the starting thread
                failed.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="mock-openai", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failed:
            raise failed[0]
        return self._thread

    def stop(self) -> None:
        """Stop a server started with ``start_in_thread``, waiting (bounded) for its thread."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()

    # --- one request ----------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        protocol = request.protocol
        if isinstance(protocol, MockProtocol):
            protocol.request_started()
        try:
            return await self.respond(request)
        finally:
            if isinstance(protocol, MockProtocol):
                protocol.request_finished()

    async def respond(self, request: web.BaseRequest) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        limit = self.mock.config.max_body_bytes
        declared = request.content_length
        try:
            if declared is not None and declared > limit:
                body, size = b"", declared  # never read: refused on its declared size
            else:
                body, size = await asyncio.wait_for(
                    read_body(request, limit), self.limits.body_timeout
                )
        except asyncio.TimeoutError:
            message = f"Timed out reading the request body after {self.limits.body_timeout} s."
            return envelope_response(APIError(408, message), close=True)
        mock_request = MockRequest(
            request.method, request.path, headers, body, None if size is None else size
        )
        try:
            if len(body) > INLINE_BODY_BYTES:
                loop = asyncio.get_running_loop()
                entry, response = await loop.run_in_executor(
                    self._executor, self.mock.exchange, mock_request
                )
            else:
                entry, response = self.mock.exchange(mock_request)
        except Exception:
            # A bug in the mock: answer like the API's 500, keep the traceback for its author.
            traceback.print_exc()
            return envelope_response(errors.server_error())
        self.record(entry)
        if response.timeout is not None:
            return await self.hold(request, response.timeout)
        close = size is not None  # an unread or partly read body leaves the stream unusable
        if response.events:
            return await self.stream(request, response)
        return to_web_response(response, close=close)

    async def hold(self, request: web.BaseRequest, seconds: float) -> web.StreamResponse:
        """A timeout fault: keep the client waiting, then drop the connection unanswered."""
        assert self._stop is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing is sent: aiohttp drops the request quietly

    async def stream(self, request: web.BaseRequest, response: MockResponse) -> web.StreamResponse:
        """SSE, one chunked write per event, so the client sees each one as it is made."""
        out = web.StreamResponse(status=response.status, headers=response.headers)
        out.enable_chunked_encoding()
        delay = self.limits.stream_delay_ms / 1000
        try:
            await out.prepare(request)
            for i, event in enumerate(response.events):
                if delay and i:
                    await asyncio.sleep(delay)
                await out.write(event)
            await out.write_eof()
        except ConnectionError:
            pass  # the client left mid-stream; its entry is journaled already
        return out

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


def bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (not yet listening); ``OSError`` if the port is taken."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Lets a restarted server reuse its port at once; never shares a port that is in use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


async def read_body(request: web.BaseRequest, limit: int) -> tuple[bytes, int | None]:
    """The body and, if it went over ``limit`` (then it is dropped), the size read so far."""
    parts: list[bytes] = []
    total = 0
    while chunk := await request.content.readany():
        total += len(chunk)
        if total > limit:
            return b"", total
        parts.append(chunk)
    return b"".join(parts), None


def to_web_response(response: MockResponse, close: bool = False) -> web.Response:
    out = web.Response(status=response.status, headers=response.headers, body=response.body)
    if close:
        out.force_close()
    return out


def envelope_response(error: APIError, close: bool = False) -> web.Response:
    body = json.dumps(error.envelope()).encode()
    response = MockResponse(error.status, {"content-type": "application/json"}, body)
    return to_web_response(response, close=close)


def serve(
    server: MockServer,
    on_ready: Callable[[MockServer], None] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then return normally. Must run in the main thread."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Also takes SIGINT back from a shell's background job, which starts it ignored.
            loop.add_signal_handler(sig, server.request_stop)
        try:
            await server.run(on_ready=(lambda: on_ready(server)) if on_ready else None)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        server.socket.close()
