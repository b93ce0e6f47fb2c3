"""The served mock's limits: how long and how much it waits for and accepts from a client.

Apart from ``mock_api.server`` so the command line can show the defaults without aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLimits:
    """How long and how much the server waits for and accepts from a client."""

    backlog: int = 128  # pending connections the kernel queues before refusing
    idle_timeout: float = 30.0  # a connection with no request in progress is closed after this
    header_timeout: float = 10.0  # from a request's first byte to its last header line
    body_timeout: float = 60.0  # to receive a whole body once its headers are in
    # After refusing a body unread, how long to drain (and drop) what the client still sends
    # before closing: closing at once could reset the connection before it reads the answer.
    lingering_time: float = 2.0
    max_header_bytes: int = 8190  # one request or header line
    stream_delay_ms: float = 0.0  # pause between SSE events, so a person sees tokens arrive
    shutdown_grace: float = 1.0  # on stop, how long requests in progress may still finish
