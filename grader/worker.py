"""The worker: the only process that runs submission code.

It imports the heavy modules once (openai, tiktoken and its encodings, respx), then forks a
fresh child per case, so that each case starts from a clean module and a crash, a hang or an
``os._exit`` ends only that case. The child's requests are intercepted by respx and forwarded
over the channel to the grader, which answers them and keeps the journal.

Started by ``grader.runner.Sandbox`` with the two pipe ends as ``sys.argv[2:4]``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import importlib.util
import inspect
import io
import json
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from grader import guard
from grader.protocol import Channel

REQUIRED = ("count_tokens", "trim_history", "main")


def preload() -> dict[str, str]:
    """Import and exercise what every submission uses, before forking, so each case starts warm.

    The SDK builds much of itself lazily on the first request (pydantic models, the streaming
    and async paths); one request of each kind here saves that time in every case.
    """
    import asyncio

    import click  # noqa: F401  (students' command lines use it; the reference does)
    import openai
    import tiktoken

    from mock_api.core import ChatCompletionsMock
    from mock_api.intercept import intercept

    tiktoken.get_encoding("o200k_base")
    messages = [{"role": "user", "content": "warm-up"}]
    with intercept(ChatCompletionsMock()):
        client = openai.OpenAI(api_key="sk-warm-up", max_retries=0)
        client.chat.completions.create(model="gpt-5.4", messages=messages)
        for _ in client.chat.completions.create(model="gpt-5.4", messages=messages, stream=True):
            pass

        async def warm_async() -> None:
            async_client = openai.AsyncOpenAI(api_key="sk-warm-up", max_retries=0)
            await async_client.chat.completions.create(model="gpt-5.4", messages=messages)
            await async_client.close()

        asyncio.run(warm_async())
        client.close()
    return {"openai": openai.__version__, "tiktoken": tiktoken.__version__}


def main() -> int:
    channel = Channel(int(sys.argv[2]), int(sys.argv[3]))
    versions = preload()
    fence = guard.isolate_network()
    channel.send({"op": "ready", "pid": os.getpid(), "fence": fence, **versions})
    while True:
        message = channel.receive()
        if message is None or message["op"] == "quit":
            return 0
        if message["op"] == "case":
            run_forked(message, channel)


def run_forked(message: dict[str, Any], channel: Channel) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            code = run_case(message, channel)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    channel.send({"op": "exited", "pid": pid, **describe_status(status)})


def describe_status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.WEXITSTATUS(status)}


def run_case(message: dict[str, Any], channel: Channel) -> int:
    os.setpgid(0, 0)
    channel.send({"op": "started", "pid": os.getpid()})
    workdir = Path(message["workdir"])
    redirect_stdio(Path(message["stdin"]), Path(message["output"]))
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    sys.dont_write_bytecode = True
    guard.limit_resources(
        message.get("memory_bytes"), message["output_bytes"], int(message["timeout"]) + 2
    )
    guard.install_audit_hook(workdir)

    module = load_submission(workdir / message["file"], channel)
    if module is None:
        return 0
    if message["kind"] == "functions":
        outcome = run_functions(module, message, channel)
    else:
        outcome = run_conversation(module, message, channel)
    flush_stdio()
    channel.send({"op": "done", **outcome})
    return 0


def redirect_stdio(stdin: Path, output: Path) -> None:
    """The case's input lines on fd 0; stdout and stderr, capped, into one file."""
    in_fd = os.open(stdin, os.O_RDONLY)
    out_fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(in_fd, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(in_fd)
    os.close(out_fd)
    # These wrappers live as long as the process: no context manager can own them.
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8")  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(
        open(1, "wb", closefd=False),  # noqa: SIM115
        encoding="utf-8",
        errors="replace",
        line_buffering=True,
    )
    sys.stderr = sys.stdout


def flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def load_submission(path: Path, channel: Channel) -> ModuleType | None:
    """A fresh module from the file; tells the grader whether it loaded and what it lacks."""
    try:
        spec = importlib.util.spec_from_file_location("chat_repl", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["chat_repl"] = module
        spec.loader.exec_module(module)
    except BaseException as exc:
        channel.send({"op": "loaded", "ok": False, "error": describe_exception(exc, path)})
        return None
    missing = [name for name in REQUIRED if not callable(getattr(module, name, None))]
    channel.send({"op": "loaded", "ok": not missing, "missing": missing})
    return None if missing else module


def describe_exception(exc: BaseException, path: Path | None = None) -> dict[str, Any]:
    """Type, message, and the traceback lines that are the student's, not ours."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if "grader/worker.py" not in f.filename.replace(os.sep, "/")]
    lines = traceback.format_list(own[-6:]) if own else []
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    return {
        "type": type(exc).__name__,
        "bases": [cls.__name__ for cls in type(exc).__mro__],
        "message": str(exc)[:2000],
        "traceback": "".join(lines)[-4000:],
        "code": exc.code if isinstance(exc, SystemExit) and not isinstance(exc.code, str) else None,
    }


def jsonable(value: Any) -> dict[str, Any]:
    """A function's result as the grader can read it, whatever the submission returned."""
    try:
        return {"value": json.loads(json.dumps(value))}
    except (TypeError, ValueError):
        return {"unreadable": f"{type(value).__name__}: {repr(value)[:200]}"}


def run_functions(module: ModuleType, message: dict[str, Any], channel: Channel) -> dict[str, Any]:
    model = message["model"]
    for index, messages in enumerate(message["count_samples"]):
        try:
            result = jsonable(module.count_tokens(messages, model=model))
        except Exception as exc:
            result = {"error": describe_exception(exc)}
        channel.send({"op": "result", "fn": "count_tokens", "index": index, **result})
    for index, sample in enumerate(message["trim_samples"]):
        argument = copy.deepcopy(sample["messages"])
        try:
            value = module.trim_history(argument, max_input_tokens=sample["budget"], model=model)
            result = jsonable(value)
        except Exception as exc:
            result = {"error": describe_exception(exc)}
        channel.send(
            {
                "op": "result",
                "fn": "trim_history",
                "index": index,
                "argument_after": jsonable(argument),
                **result,
            }
        )
    return {"outcome": "returned"}


def run_conversation(
    module: ModuleType, message: dict[str, Any], channel: Channel
) -> dict[str, Any]:
    from mock_api.core import MockRequest, MockResponse
    from mock_api.intercept import intercept

    def forward(request: MockRequest) -> MockResponse:
        headers = {
            k: v for k, v in request.headers.items() if k in ("authorization", "content-type")
        }
        channel.send(
            {
                "op": "request",
                "method": request.method,
                "path": request.path,
                "headers": headers,
                "body": base64.b64encode(request.body).decode(),
            }
        )
        reply = channel.receive()
        if reply is None or reply.get("op") != "response":
            os._exit(75)  # the grader is gone or confused: nothing left to do
        return MockResponse(
            reply["status"], reply["headers"], base64.b64decode(reply["body"]), reply.get("timeout")
        )

    kwargs = {
        "system_prompt": message["system_prompt"],
        "model": message["model"],
        "max_input_tokens": message["budget"],
    }
    try:
        inspect.signature(module.main).bind(**kwargs)
    except (TypeError, ValueError) as exc:
        return {"outcome": "bad_signature", "error": {"type": "TypeError", "message": str(exc)}}
    with intercept(forward):
        try:
            module.main(**kwargs)
        except SystemExit as exc:
            return {"outcome": "exit", "error": describe_exception(exc)}
        except BaseException as exc:
            return {"outcome": "raised", "error": describe_exception(exc)}
    return {"outcome": "returned"}
