"""`mock-openai serve` against a trivial aiohttp server, both on loopback, in the same run.

    python benchmarks/serve_bench.py [--quick]

Prints tables: SDK latency (p50, p99), throughput at concurrency 1, 16 and 64 on keep-alive
and on new connections, the mock's RSS over 30k requests, and how each bad input of issue 10
is answered. Targets: SDK p50 within 3x of the baseline; no request over 1 s at concurrency
64 on new connections; RSS growth after warm-up within a few MB (we allow 8); every bad input
answered as the API does, with the server still up.

The baseline answers every request with one fixed completion from aiohttp's low-level server,
with no parsing, counting or journal: what the library costs on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SDK_TARGET = 3.0
NEW_CONNECTION_MAX_S = 1.0
RSS_GROWTH_MB = 8.0
HELLO = [{"role": "user", "content": "안녕하세요? Say hi."}]
FIXED = json.dumps(
    {
        "id": "chatcmpl-baseline",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


# --- the two servers, each in its own process -------------------------------------------------


def run_baseline() -> None:
    """The baseline server: aiohttp's low-level server, one fixed answer."""
    from aiohttp import web

    async def handle(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=FIXED, content_type="application/json")

    async def main() -> None:
        runner = web.ServerRunner(web.Server(handle, access_log=None))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=128)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"listening on http://127.0.0.1:{port}/v1", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO
    )
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/v1", line)
        if found:
            return proc, found.group(1)
    proc.kill()
    raise SystemExit(f"{command} did not print its URL")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- raw asyncio clients --------------------------------------------------------------------------


def request_bytes(body: bytes, close: bool = False, path: str = "/v1/chat/completions") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    found = re.search(rb"(?i)content-length: *(\d+)", head)
    if found:
        return status, await reader.readexactly(int(found.group(1)))
    body = b""  # chunked (a stream): read to the terminating chunk
    while not body.endswith(b"0\r\n\r\n"):
        body += await reader.read(65536)
    return status, body


async def load(
    host: str, port: int, bodies: Callable[[int], bytes], total: int, concurrency: int, new: bool
) -> tuple[float, list[float], list[int]]:
    """``total`` requests from ``concurrency`` clients: wall seconds, latencies, statuses."""
    latencies: list[float] = []
    statuses: list[int] = []
    counter = iter(range(total))

    async def client() -> None:
        reader = writer = None
        for i in counter:
            started = time.perf_counter()
            if new or writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            writer.write(request_bytes(bodies(i), close=new))
            status, _ = await read_answer(reader)
            if new:
                writer.close()
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
        if writer is not None and not new:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def chat_body(i: int) -> bytes:
    """Distinct text per request, so caches see new strings the whole run."""
    messages = [*HELLO, {"role": "user", "content": f"request {i}: 단어 " * (1 + i % 7)}]
    return json.dumps({"model": "gpt-4o", "messages": messages}).encode()


def mixed_body(i: int) -> bytes:
    """Mostly chats, some streams, some refused: what a class of REPLs sends."""
    if i % 10 == 3:
        body = json.loads(chat_body(i))
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        return json.dumps(body).encode()
    if i % 10 == 7:
        return json.dumps(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": i}]}
        ).encode()
    return chat_body(i)


# --- the measurements ---------------------------------------------------------------------------


def sdk_latency(base: str, count: int) -> list[float]:
    from openai import OpenAI

    client = OpenAI(base_url=base + "/v1", api_key="sk-bench", max_retries=0)
    seconds = []
    for i in range(count + 20):
        started = time.perf_counter()
        client.chat.completions.create(
            model="gpt-4o", messages=json.loads(chat_body(i))["messages"]
        )
        if i >= 20:  # warm-up excluded
            seconds.append(time.perf_counter() - started)
    client.close()
    return seconds


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


BAD_INPUTS: list[tuple[str, bytes, dict[str, str], int, str | None]] = [
    # name, body, extra headers (None-valued: drop Authorization), expected status, code
    ("JSON nested 10^5 deep", b"[" * 100_000 + b"]" * 100_000, {}, 400, None),
    ("content: 42", b'{"model":"gpt-4o","messages":[{"role":"user","content":42}]}', {}, 400,
     "invalid_type"),
    ("content: {}", b'{"model":"gpt-4o","messages":[{"role":"user","content":{}}]}', {}, 400,
     "invalid_type"),
    ("content: null", b'{"model":"gpt-4o","messages":[{"role":"user","content":null}]}', {}, 400,
     "invalid_type"),
    ("content missing", b'{"model":"gpt-4o","messages":[{"role":"user"}]}', {}, 400,
     "missing_required_parameter"),
    ("n: 2 (two choices)", json.dumps({"model": "gpt-4o", "messages": HELLO, "n": 2}).encode(),
     {}, 200, None),
    ("unknown parameter", json.dumps({"model": "gpt-4o", "messages": HELLO, "x": 1}).encode(),
     {}, 400, None),
    ("no Authorization", json.dumps({"model": "gpt-4o", "messages": HELLO}).encode(),
     {"authorization": ""}, 401, "invalid_api_key"),
    ("max_completion_tokens: -1",
     json.dumps({"model": "gpt-4o", "messages": HELLO, "max_completion_tokens": -1}).encode(),
     {}, 400, "integer_below_min_value"),
    ('max_completion_tokens: "100"',
     json.dumps({"model": "gpt-4o", "messages": HELLO, "max_completion_tokens": "100"}).encode(),
     {}, 400, "invalid_type"),
    ('stream: "yes"',
     json.dumps({"model": "gpt-4o", "messages": HELLO, "stream": "yes"}).encode(), {}, 400,
     "invalid_type"),
]  # fmt: skip


def bad_input_rows(base: str) -> list[tuple[str, str, str, bool]]:
    """Each bad input through httpx: (name, expected, got, matches), then a liveness check."""
    import httpx

    rows = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, body, extra, status, code in BAD_INPUTS:
            headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}
            headers.update(extra)
            headers = {k: v for k, v in headers.items() if v}
            got = client.post("/v1/chat/completions", content=body, headers=headers)
            answer = got.json()
            got_code = answer.get("error", {}).get("code") if "error" in answer else None
            ok = got.status_code == status and got_code == code
            if name.startswith("n: 2"):
                ok = ok and len(answer["choices"]) == 2
            rows.append(
                (name, f"{status} {code or '-'}", f"{got.status_code} {got_code or '-'}", ok)
            )
        for method in ("HEAD", "OPTIONS"):
            got = client.request(
                method, "/v1/chat/completions", headers={"authorization": "Bearer x"}
            )
            envelope = method == "HEAD" or "error" in got.json()
            rows.append(
                (method, "405 envelope", f"{got.status_code}", got.status_code == 405 and envelope)
            )
        big = {"x-big": "a" * 20_000}
        got = client.get("/v1/models", headers=big)
        rows.append(("oversized header", "400 envelope", f"{got.status_code}",
                     got.status_code == 400 and "error" in got.json()))  # fmt: skip
    with httpx.Client(base_url=base, timeout=30) as client:
        alive = client.get("/v1/models", headers={"authorization": "Bearer x"}).status_code == 200
    rows.append(("server still up", "200", "200" if alive else "down", alive))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    args = parser.parse_args()
    if args.baseline:
        run_baseline()
        return
    scale = 0.1 if args.quick else 1.0
    sdk_count = int(500 * scale)
    keep_alive_total, new_total = int(2000 * scale), int(1000 * scale)
    rss_total = int(30_000 * scale)

    mock, mock_url = start(
        [sys.executable, "-m", "mock_api", "serve", "--port", "0", "--journal-size", "256"]
    )
    baseline, base_url = start([sys.executable, __file__, "--baseline"])
    servers = {
        "baseline (aiohttp, fixed answer)": (baseline, base_url),
        "mock-openai": (mock, mock_url),
    }
    try:
        print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              "client and server share the machine")  # fmt: skip
        print()
        sdk: dict[str, list[float]] = {}
        print("SDK latency (openai.OpenAI, keep-alive, sequential)")
        print()
        print("| server | requests | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for name, (_, url) in servers.items():
            sdk[name] = sdk_latency(url, sdk_count)
            s = sdk[name]
            print(f"| {name} | {len(s)} | {percentile(s, 50) * 1000:.2f} | "
                  f"{percentile(s, 99) * 1000:.2f} | {max(s) * 1000:.2f} |")  # fmt: skip
        print()
        print("Throughput (raw HTTP/1.1 clients)")
        print()
        print(
            "| server | connections | concurrency | requests | req/s | p50 ms | p99 ms | max ms |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        worst_new_64 = 0.0
        failures = 0
        for name, (_, url) in servers.items():
            host, port = url.removeprefix("http://").split(":")
            for new in (False, True):
                for concurrency in (1, 16, 64):
                    total = new_total if new else keep_alive_total
                    wall, lat, statuses = asyncio.run(
                        load(host, int(port), chat_body, total, concurrency, new)
                    )
                    failures += sum(s != 200 for s in statuses)
                    if new and concurrency == 64 and name == "mock-openai":
                        worst_new_64 = max(lat)
                    kind = "new each" if new else "keep-alive"
                    print(f"| {name} | {kind} | {concurrency} | {total} | {total / wall:,.0f} | "
                          f"{percentile(lat, 50) * 1000:.1f} | {percentile(lat, 99) * 1000:.1f} | "
                          f"{max(lat) * 1000:.1f} |")  # fmt: skip
        print()
        host, port = mock_url.removeprefix("http://").split(":")
        warm = int(2000 * scale)
        asyncio.run(load(host, int(port), mixed_body, warm, 16, False))
        rss_warm = rss_mb(mock.pid)
        started = time.perf_counter()
        _, _, statuses = asyncio.run(load(host, int(port), mixed_body, rss_total, 16, False))
        took = time.perf_counter() - started
        rss_after = rss_mb(mock.pid)
        growth = rss_after - rss_warm
        print(f"mock-openai RSS: {rss_warm:.1f} MB after {warm:,} warm-up requests, "
              f"{rss_after:.1f} MB after {rss_total:,} more ({took:.1f} s; chats, 10% streams, "
              f"10% refused): growth {growth:+.1f} MB")  # fmt: skip
        print()
        print("Bad inputs (issue 10's table), as the API answers them")
        print()
        print("| input | expected | mock-openai | |")
        print("|---|---|---|---|")
        rows = bad_input_rows(mock_url)
        for name, expected, got, ok in rows:
            print(f"| {name} | {expected} | {got} | {'ok' if ok else 'DIFFERS'} |")
        print()
        base_name = next(iter(servers))
        ratio = percentile(sdk["mock-openai"], 50) / percentile(sdk[base_name], 50)
        targets = [
            (f"SDK p50 within {SDK_TARGET:.0f}x of the baseline", ratio < SDK_TARGET,
             f"{ratio:.2f}x"),
            (f"no request over {NEW_CONNECTION_MAX_S:.0f} s at concurrency 64, new connections",
             worst_new_64 < NEW_CONNECTION_MAX_S, f"max {worst_new_64 * 1000:.0f} ms"),
            (f"RSS growth after warm-up within {RSS_GROWTH_MB:.0f} MB", growth < RSS_GROWTH_MB,
             f"{growth:+.1f} MB"),
            ("every bad input answered as the API does, server still up",
             all(ok for *_, ok in rows), f"{sum(ok for *_, ok in rows)}/{len(rows)}"),
            ("no failed request in the throughput runs", failures == 0, f"{failures} failed"),
        ]  # fmt: skip
        print("| target | met | measured |")
        print("|---|---|---|")
        for name, met, measured in targets:
            print(f"| {name} | {'yes' if met else 'NO'} | {measured} |")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
