"""``mock-openai conformance``: passes against the mock, and catches servers that differ.

Every endpoint here is on 127.0.0.1; nothing tries the real API.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from mock_api import ChatCompletionsMock, MockConfig
from mock_api.cli import main
from mock_api.conformance import PROBES
from mock_api.server import MockServer

KEY = "sk-conformance-0123456789"
COMMAND = [sys.executable, "-m", "mock_api"]  # the same as the mock-openai script


def child_env(**extra: str) -> dict[str, str]:
    """This environment without proxies (loopback stays loopback), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, **extra}


def run_conformance(base_url: str, key: str = KEY) -> tuple[int, dict[str, str]]:
    """Exit code, and each probe's result cell by probe name."""
    result = CliRunner().invoke(main, ["conformance", "--base-url", base_url, "--api-key", key])
    rows = {}
    for probe in PROBES:
        [line] = [line for line in result.output.splitlines() if line.startswith(probe.name + " ")]
        rows[probe.name] = "ok" if line.endswith("  ok") else line[line.index("DIFF") :]
    return result.exit_code, rows


@pytest.fixture
def mock_server() -> Iterator[MockServer]:
    config = MockConfig(api_key=KEY, require_auth=True)
    running = MockServer(ChatCompletionsMock(config), "127.0.0.1", 0)
    running.start_in_thread()
    yield running
    running.stop()


def test_the_mock_passes(mock_server: MockServer) -> None:
    code, rows = run_conformance(mock_server.base_url)
    assert rows == {probe.name: "ok" for probe in PROBES}
    assert code == 0
    assert mock_server.mock.count == len(PROBES)


def test_the_real_command_passes_against_the_real_server() -> None:
    serve = subprocess.Popen(
        [*COMMAND, "serve", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first)
        assert found, first
        result = subprocess.run(
            [*COMMAND, "conformance", "--base-url", found.group(1)],
            capture_output=True,
            text=True,
            timeout=120,
            env=child_env(OPENAI_API_KEY=KEY),
        )
    finally:
        serve.terminate()
        serve.communicate(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(PROBES)}/{len(PROBES)} probes match the API" in result.stdout
    header = result.stdout.splitlines()[1]
    for column in ("probe", "status", "code", "param", "prompt_tokens (got/local)", "result"):
        assert column in header


def test_a_lenient_mock_is_caught_exactly_where_it_differs() -> None:
    """Started to skip Authorization: only the probe that sends none differs."""
    running = MockServer(ChatCompletionsMock(MockConfig(api_key=None)), "127.0.0.1", 0)
    running.start_in_thread()
    try:
        code, rows = run_conformance(running.base_url)
    finally:
        running.stop()
    assert code == 1
    differing = {name: cell for name, cell in rows.items() if cell != "ok"}
    assert set(differing) == {"no Authorization", "wrong key"}
    assert "status 200, expected 401" in differing["no Authorization"]
    assert "accepts any key" in differing["wrong key"]  # the hint


class WrongHandler(BaseHTTPRequestHandler):
    """A server that looks like the API at a glance: 200 and a completion for everything,
    one token off in its count, and no x-request-id."""

    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        usage = {"prompt_tokens": 25, "completion_tokens": 1, "total_tokens": 26}
        body: dict[str, Any] = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
            "usage": usage,
        }
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_wrong_server_is_caught() -> None:
    wrong = ThreadingHTTPServer(("127.0.0.1", 0), WrongHandler)
    thread = threading.Thread(target=wrong.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = wrong.server_address[:2]
        code, rows = run_conformance(f"http://{host}:{port}/v1")
    finally:
        wrong.shutdown()
        wrong.server_close()
    assert code == 1
    assert "prompt_tokens 25, local 24" in rows["completion"]
    assert "no x-request-id header" in rows["completion"]
    assert "status 200, expected 400" in rows["unknown parameter"]
    assert "no error envelope" in rows["no model"]
    assert "1 choices, expected 2" in rows["n=2 choices"]
    assert "status 200, expected 405" in rows["wrong method"]
    assert all(cell != "ok" for cell in rows.values())


@pytest.mark.parametrize("url", ["foo", "http://[", "ftp://127.0.0.1/v1", "http:///v1"])
def test_a_bad_base_url_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(main, ["conformance", "--base-url", url])
    assert result.exit_code == 2
    assert "Invalid value for '--base-url'" in result.output


def test_an_endpoint_that_does_not_answer_is_one_clear_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = unused.getsockname()[1]
        result = CliRunner().invoke(
            main, ["conformance", "--base-url", f"http://127.0.0.1:{port}/v1"]
        )
    assert result.exit_code == 1
    assert f"error: http://127.0.0.1:{port}/v1: no answer:" in result.output
    assert "probe" not in result.output  # no table of 26 failures
