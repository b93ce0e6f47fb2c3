"""``mock-openai conformance``: a fixed set of probes, run against any endpoint, in a table.

Each probe is one request with the answer the real API gives (status, error ``code`` and
``param``); completions also compare ``usage.prompt_tokens`` with our own count. Run against
the mock it shows the mock answers as the API does; run against the API (with a key) it shows
whether the API still answers as the mock assumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mock_api.tokens import count_request_tokens

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "안녕하세요? Say hi. 👋"},
]
REASONING_PROBE_MODEL = "gpt-5-mini"  # refuses max_tokens
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000

Check = Callable[[Any], str | None]  # the parsed answer -> a problem, or None


class Unreachable(Exception):
    """The endpoint did not answer the first probe: no table would say anything useful."""


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    path: str  # after the base URL
    body: Callable[[str], Any] | bytes | None  # model -> JSON body, or raw bytes
    status: int
    code: str | None = None
    param: str | None = None
    auth: str = "key"  # "key", "none" or "wrong"
    count: bool = False  # compare usage.prompt_tokens with the local count
    stream: bool = False
    check: Check | None = None
    hint: str = ""  # shown with a difference: its likely cause


def chat(**extra: Any) -> Callable[[str], dict[str, Any]]:
    return lambda model: {"model": model, "messages": MESSAGES, **extra}


def with_messages(*messages: Any) -> Callable[[str], dict[str, Any]]:
    return lambda model: {"model": model, "messages": list(messages)}


def choices(n: int) -> Check:
    def check(answer: Any) -> str | None:
        got = len(answer.get("choices", [])) if isinstance(answer, dict) else 0
        return None if got == n else f"{got} choices, expected {n}"

    return check


def shaped(obj: str) -> Check:
    def check(answer: Any) -> str | None:
        got = answer.get("object") if isinstance(answer, dict) else None
        return None if got == obj else f"object {got!r}, expected {obj!r}"

    return check


# The probe set: a valid call, a stream with usage, and each class of error.
PROBES: tuple[Probe, ...] = (
    Probe("completion", "POST", "/chat/completions", chat(), 200, count=True,
          check=shaped("chat.completion")),
    Probe("stream with usage", "POST", "/chat/completions",
          chat(stream=True, stream_options={"include_usage": True}), 200, count=True,
          stream=True),
    Probe("n=2 choices", "POST", "/chat/completions", chat(n=2), 200, check=choices(2)),
    Probe("no Authorization", "POST", "/chat/completions", chat(), 401, "invalid_api_key",
          auth="none"),
    Probe("wrong key", "POST", "/chat/completions", chat(), 401, "invalid_api_key",
          auth="wrong", hint="a mock serving without --api-key KEY accepts any key"),
    Probe("unparseable JSON", "POST", "/chat/completions", b'{"model": ', 400),
    Probe("JSON nested 10^5 deep", "POST", "/chat/completions", DEEP_JSON, 400),
    Probe("no model", "POST", "/chat/completions", {"messages": MESSAGES}, 400,
          "missing_required_parameter", "model"),
    Probe("messages: []", "POST", "/chat/completions", with_messages(), 400, "empty_array",
          "messages"),
    Probe("unknown role", "POST", "/chat/completions",
          with_messages({"role": "robot", "content": "beep"}), 400, "invalid_value",
          "messages[0].role"),
    Probe("content: 42", "POST", "/chat/completions",
          with_messages({"role": "user", "content": 42}), 400, "invalid_type",
          "messages[0].content"),
    Probe("content: null", "POST", "/chat/completions",
          with_messages({"role": "user", "content": None}), 400, "invalid_type",
          "messages[0].content"),
    Probe("content missing", "POST", "/chat/completions", with_messages({"role": "user"}),
          400, "missing_required_parameter", "messages[0].content"),
    Probe("content part type", "POST", "/chat/completions",
          with_messages({"role": "user", "content": [{"type": "video", "text": "x"}]}), 400,
          "invalid_value", "messages[0].content[0].type"),
    Probe("unknown parameter", "POST", "/chat/completions", chat(colour="blue"), 400),
    Probe("n: 0", "POST", "/chat/completions", chat(n=0), 400, "integer_below_min_value", "n"),
    Probe("max_completion_tokens: -1", "POST", "/chat/completions",
          chat(max_completion_tokens=-1), 400, "integer_below_min_value",
          "max_completion_tokens"),
    Probe('max_completion_tokens: "100"', "POST", "/chat/completions",
          chat(max_completion_tokens="100"), 400, "invalid_type", "max_completion_tokens"),
    Probe('stream: "yes"', "POST", "/chat/completions", chat(stream="yes"), 400,
          "invalid_type", "stream"),
    Probe("temperature: 3", "POST", "/chat/completions", chat(temperature=3), 400,
          "decimal_above_max_value", "temperature"),
    Probe("max_tokens, reasoning model", "POST", "/chat/completions",
          lambda _: {"model": REASONING_PROBE_MODEL, "messages": MESSAGES, "max_tokens": 5},
          400, "unsupported_parameter", "max_tokens"),
    Probe("unknown URL", "POST", "/no/such/endpoint", chat(), 404),
    Probe("wrong method", "PUT", "/models", None, 405),
    Probe("GET /models", "GET", "/models", None, 200, check=shaped("list")),
    Probe("GET /models/{model}", "GET", "/models/{model}", None, 200, check=shaped("model")),
    Probe("GET /models/unknown", "GET", "/models/no-such-model-mock", None, 404,
          "model_not_found", "model"),
)  # fmt: skip


@dataclass
class Outcome:
    probe: Probe
    status: int | None = None
    code: str | None = None
    param: str | None = None
    prompt_tokens: int | None = None
    local_tokens: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def run_probe(client: httpx.Client, probe: Probe, api_key: str, model: str) -> Outcome:
    outcome = Outcome(probe)
    headers = {"content-type": "application/json"}
    if probe.auth == "key":
        headers["authorization"] = f"Bearer {api_key}"
    elif probe.auth == "wrong":
        headers["authorization"] = "Bearer sk-conformance-wrong-key-0000"
    body = probe.body(model) if callable(probe.body) else probe.body
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    if probe.count and isinstance(body, dict):
        outcome.local_tokens = count_request_tokens(body["messages"], model)
    path = probe.path.replace("{model}", model)
    try:
        response = client.request(probe.method, path.lstrip("/"), content=content, headers=headers)
    except httpx.HTTPError as exc:
        outcome.problems.append(f"no answer: {exc or type(exc).__name__}")
        return outcome
    outcome.status = response.status_code
    answer = parse_answer(response, probe.stream and response.status_code == 200)
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        outcome.code, outcome.param = error.get("code"), error.get("param")
    if probe.count:
        usage = answer.get("usage") if isinstance(answer, dict) else None
        if isinstance(usage, dict):
            outcome.prompt_tokens = usage.get("prompt_tokens")
    judge(outcome, answer, response)
    return outcome


def parse_answer(response: httpx.Response, stream: bool) -> Any:
    """The JSON answer; for a stream, the last chunk that has a usage block (or the last)."""
    if not stream:
        try:
            return response.json()
        except ValueError:
            return None
    chunks = []
    for line in response.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            try:
                chunks.append(json.loads(line.removeprefix("data: ")))
            except ValueError:
                return None
    with_usage = [c for c in chunks if isinstance(c, dict) and c.get("usage")]
    return (with_usage or chunks or [None])[-1]


def judge(outcome: Outcome, answer: Any, response: httpx.Response) -> None:
    probe, problems = outcome.probe, outcome.problems
    if outcome.status != probe.status:
        problems.append(f"status {outcome.status}, expected {probe.status}")
    if probe.status >= 400:
        if not (isinstance(answer, dict) and isinstance(answer.get("error"), dict)):
            problems.append("no error envelope")
        elif set(answer["error"]) != {"message", "type", "param", "code"}:
            problems.append(f"envelope fields {sorted(answer['error'])}")
        if outcome.code != probe.code:
            problems.append(f"code {outcome.code!r}, expected {probe.code!r}")
        if outcome.param != probe.param:
            problems.append(f"param {outcome.param!r}, expected {probe.param!r}")
    if probe.count and outcome.prompt_tokens != outcome.local_tokens:
        problems.append(f"prompt_tokens {outcome.prompt_tokens}, local {outcome.local_tokens}")
    if "x-request-id" not in response.headers:
        problems.append("no x-request-id header")
    if probe.check is not None and outcome.status == probe.status:
        problem = probe.check(answer)
        if problem:
            problems.append(problem)


def run_probes(base_url: str, api_key: str, model: str, timeout: float) -> tuple[str, bool]:
    """Every probe, in order: the table to print, and whether all of them matched."""
    with httpx.Client(base_url=base_url.rstrip("/") + "/", timeout=timeout) as client:
        outcomes = [run_probe(client, PROBES[0], api_key, model)]
        if outcomes[0].status is None:
            raise Unreachable(f"{base_url}: {outcomes[0].problems[0]}")
        outcomes += [run_probe(client, probe, api_key, model) for probe in PROBES[1:]]
    return format_table(base_url, outcomes), all(o.ok for o in outcomes)


def format_table(base_url: str, outcomes: list[Outcome]) -> str:
    header = ("probe", "status", "code", "param", "prompt_tokens (got/local)", "result")
    rows = [header]
    for o in outcomes:
        tokens = f"{o.prompt_tokens}/{o.local_tokens}" if o.probe.count else ""
        verdict = "ok" if o.ok else "DIFF: " + "; ".join(o.problems)
        if not o.ok and o.probe.hint:
            verdict += f" ({o.probe.hint})"
        rows.append(
            (o.probe.name, str(o.status), str(o.code or "-"), str(o.param or "-"), tokens, verdict)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [f"conformance of {base_url}"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    passed = sum(o.ok for o in outcomes)
    lines.append(f"{passed}/{len(outcomes)} probes match the API")
    return "\n".join(lines)
