"""Tries every way it knows to reach a listener on loopback, then says what happened.

PORT is set by the test, which listens on 127.0.0.1:PORT (TCP and UDP) and checks that
nothing arrives. Nothing here addresses anything outside 127.0.0.0/8.
"""

import ctypes
import socket

from _base import count_tokens, repl, trim_history  # noqa: F401

PORT = None
HOST = "127.0.0.1"


def attempts() -> dict[str, str]:
    results = {}

    def attempt(name, action):
        try:
            action()
            results[name] = "CONNECTED"
        except BaseException as exc:
            results[name] = f"{type(exc).__name__}: {exc}"

    attempt("tcp", lambda: socket.create_connection((HOST, PORT), timeout=1).close())
    attempt(
        "udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (HOST, PORT))
    )

    def with_httpx() -> None:
        import httpx

        httpx.get(f"http://{HOST}:{PORT}/", timeout=1)

    def with_urllib() -> None:
        import urllib.request

        urllib.request.urlopen(f"http://{HOST}:{PORT}/", timeout=1)

    def with_ctypes() -> None:
        libc = ctypes.CDLL(None)
        fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        address = bytes([2, 0, PORT >> 8, PORT & 255, 127, 0, 0, 1]) + bytes(8)
        if libc.connect(fd, address, 16) != 0:
            raise OSError("connect() failed")

    attempt("httpx", with_httpx)
    attempt("urllib", with_urllib)
    attempt("ctypes", with_ctypes)
    return results


def main(system_prompt: str = "", model: str = "gpt-5.4", max_input_tokens: int = 8000) -> None:
    results = attempts()
    print(results)
    if "CONNECTED" in results.values():
        raise RuntimeError(f"CONNECTED: {results}")
    raise ConnectionError(f"every connection failed: {results}")
