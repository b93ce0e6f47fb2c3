"""End to end: `python solution/chat_repl.py` as a user runs it, against `mock-openai serve`.

Both are subprocesses on loopback; the server's journal is the record of every request the REPL
really sent, checked against the conversation the scripted input produced.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mock_api.tokens import count_request_tokens, message_tokens

REPO = Path(__file__).resolve().parent.parent
REPL = REPO / "solution" / "chat_repl.py"
MODEL = "gpt-5.4"
SYSTEM = "You are a terse assistant. 짧게 답해."
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@dataclass
class Server:
    base_url: str
    tiktoken_cache: str
    journal: Path

    def requests(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text("utf-8").splitlines()]


def mock_openai_command() -> list[str]:
    script = shutil.which("mock-openai", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mock_api"]


def read_until(process: subprocess.Popen[str], pattern: str, seconds: float) -> re.Match[str]:
    """Read the process's stdout line by line until a line matches; bounded in time.

    A thread does the reading (a pipe's readline blocks), handing lines over through a queue.
    """
    lines: queue.Queue[str] = getattr(process, "lines", None) or queue.Queue()
    if not hasattr(process, "lines"):
        process.lines = lines  # type: ignore[attr-defined]
        assert process.stdout is not None
        threading.Thread(
            target=lambda: [lines.put(line) for line in process.stdout],  # type: ignore[union-attr]
            daemon=True,
        ).start()
    deadline = time.monotonic() + seconds
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r} in {seen!r}")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def mock_server(tmp_path: Path, *options: str) -> Iterator[Server]:
    journal = tmp_path / "journal.jsonl"
    command = [*mock_openai_command(), "serve", "--port", "0", "--journal", str(journal)]
    process = subprocess.Popen(
        [*command, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = read_until(process, r"export OPENAI_BASE_URL=(\S+)", 30)[1]
        cache = read_until(process, r"export TIKTOKEN_CACHE_DIR=(\S+)", 5)[1]
        assert url.startswith("http://127.0.0.1:")
        yield Server(url, cache, journal)
    finally:
        stop(process)
        assert process.returncode is not None


def repl_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        env.pop(var, None)
    env.update(NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1", **extra)
    return env


def run_repl(
    lines: list[str], *options: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPL), *options],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def server_env(server: Server) -> dict[str, str]:
    return repl_env(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-e2e-test",
        TIKTOKEN_CACHE_DIR=server.tiktoken_cache,
    )


def expected_turns(lines: list[str], requests: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """For each request, the conversation so far (since the last /reset), newest line last.

    Commands and the oversize line send nothing; every other line sends one request, whose
    reply (from the journal) joins the conversation.
    """
    conversations = []
    history: list[dict[str, Any]] = []
    replies = iter(requests)
    for line in lines:
        if line == "/reset":
            history = []
        if line.startswith("/") or line.startswith("OVERSIZE"):
            continue
        conversation = [*history, {"role": "user", "content": line}]
        conversations.append(conversation)
        history = [*conversation, {"role": "assistant", "content": next(replies)["reply"]}]
    return conversations


def newest_that_fit(conversation: list[dict[str, Any]], budget: int) -> int:
    system = [{"role": "system", "content": SYSTEM}]
    total = count_request_tokens(system, MODEL)
    for kept, message in enumerate(reversed(conversation)):
        total += message_tokens(message, MODEL)
        if total > budget:
            return kept
    return len(conversation)


def check_every_request(lines: list[str], requests: list[dict[str, Any]], budget: int) -> None:
    conversations = expected_turns(lines, requests)
    assert len(requests) == len(conversations)
    for request, conversation in zip(requests, conversations, strict=True):
        assert request["status"] == 200
        messages = request["body"]["messages"]
        assert messages[0] == {"role": "system", "content": SYSTEM}, "system first, unchanged"
        assert count_request_tokens(messages, MODEL) <= budget
        assert request["prompt_tokens"] <= budget
        sent = messages[1:]
        assert sent == conversation[-len(sent) :], "a suffix of the conversation"
        assert sent[-1] == conversation[-1], "the newest user line last"
        assert len(sent) == newest_that_fit(conversation, budget), "nothing dropped that fit"
        assert all(not str(m["content"]).startswith("OVERSIZE") for m in messages)


def test_trimming_oversize_and_commands_against_the_server(tmp_path: Path) -> None:
    budget = 160
    lines = [f"line {i}: tell me about 블랙홀 number {i} 🙂" for i in range(1, 7)]
    lines += [
        "OVERSIZE " + "far too long for the budget " * 40,
        "/tokens",
        "after the long one",
        "/history",
        "/reset",
        "fresh start",
        "and one more <|endoftext|> line",
    ]
    with mock_server(tmp_path, "--reply-tokens", "12") as server:
        result = run_repl(
            lines,
            "--max-input-tokens",
            str(budget),
            "--system",
            SYSTEM,
            env=server_env(server),
        )
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    check_every_request(lines, requests, budget)
    dropped_somewhere = [len(r["body"]["messages"]) for r in requests]
    assert max(dropped_somewhere) < 2 * 8, "trimming happened"
    assert requests[-2]["body"]["messages"][1:] == [{"role": "user", "content": "fresh start"}]
    out = result.stdout
    for request in requests:
        assert request["reply"] in out
        assert f"{request['prompt_tokens']:,} / {budget} input tokens" in out
    assert "messages dropped)" in out
    assert "history:" in out and "a new line can be up to" in out  # /tokens
    assert "history cleared" in out  # /reset
    assert result.stderr.count("too long to send") == 1


def test_quit_streaming_and_end_of_input(tmp_path: Path) -> None:
    lines = ["hello", "how are you?", "/quit", "never sent"]
    with mock_server(tmp_path, "--reply-tokens", "30") as server:
        result = run_repl(lines, "--stream", "--system", SYSTEM, env=server_env(server))
        requests = server.requests()
    assert result.returncode == 0, result.stderr
    assert [r["body"]["messages"][-1]["content"] for r in requests] == lines[:2]
    assert all(r["body"]["stream"] is True for r in requests)
    check_every_request(lines[:2], requests, 8000)
    for request in requests:
        assert request["reply"] + "\n" in result.stdout
        assert f"({request['prompt_tokens']:,} / 8,000 input tokens" in result.stdout


def test_api_errors_are_one_line_and_the_repl_goes_on(tmp_path: Path) -> None:
    with mock_server(tmp_path, "--api-key", "sk-something-else") as server:
        result = run_repl(["one", "two"], env=server_env(server))
        requests = server.requests()
    assert result.returncode == 0
    assert [r["status"] for r in requests] == [401, 401]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and all("authentication failed" in e for e in errors)
    assert "Traceback" not in result.stderr


def test_mock_flag_needs_no_key_and_no_server() -> None:
    env = repl_env(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    lines = ["hello", "/tokens", "second " * 60, "third", "/history"]
    result = run_repl(lines, "--mock", "--max-input-tokens", "120", env=env)
    assert result.returncode == 0, result.stderr
    assert "via the built-in mock (no network)" in result.stdout
    assert result.stdout.count("Reply ") >= 3
    assert re.search(r"\(\d+ / 120 input tokens, [1-9]\d* messages? dropped\)", result.stdout)
    assert "error" not in result.stderr.lower()


def test_missing_key_is_a_clear_error_pointing_to_mock() -> None:
    result = run_repl(["hello"], env=repl_env())
    assert result.returncode == 2
    assert "OPENAI_API_KEY is not set" in result.stderr and "--mock" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_exits_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, str(REPL), "--mock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=repl_env(),
    )
    try:
        read_until(process, r"Ctrl-D also quits", 60)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help(option: str) -> None:
    result = run_repl([], option, env=repl_env())
    assert result.returncode == 0
    for flag in ("--model", "--max-input-tokens", "--system", "--stream", "--mock"):
        assert flag in result.stdout
