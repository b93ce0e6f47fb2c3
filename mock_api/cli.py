"""``mock-openai``: run the emulator as a loopback server."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import click

from mock_api.core import ChatCompletionsMock, Fault, MockConfig
from mock_api.offline import EncodingDataError, seed_tiktoken_cache
from mock_api.replies import FixedReplies, ReplyPolicy, TokenReplies
from mock_api.server import MockServer, serve

DUMMY_KEY = "sk-mock-openai"
FAULT_KINDS = ("rate_limit", "server_error", "timeout")


def parse_fault(value: str) -> tuple[int, Fault]:
    """``N:KIND[:VALUE]``: KIND rate_limit (VALUE: retry-after-ms), server_error, or timeout
    (VALUE: seconds to hold the connection)."""
    number, _, rest = value.partition(":")
    kind, _, extra = rest.partition(":")
    if not number.isdigit() or int(number) < 1 or not kind:
        raise click.BadParameter(f"{value!r}: expected N:KIND[:VALUE], e.g. 3:rate_limit")
    if kind not in FAULT_KINDS:
        raise click.BadParameter(f"{value!r}: KIND must be one of {', '.join(FAULT_KINDS)}")
    if not extra:
        return int(number), Fault(kind)  # type: ignore[arg-type]
    if kind == "server_error":
        raise click.BadParameter(f"{value!r}: server_error takes no VALUE")
    try:
        amount = float(extra) if kind == "timeout" else int(extra)
    except ValueError:
        amount = -1
    if not (amount > 0 and math.isfinite(amount)):
        unit = "seconds" if kind == "timeout" else "milliseconds"
        raise click.BadParameter(f"{value!r}: VALUE must be a positive number of {unit}")
    if kind == "timeout":
        return int(number), Fault("timeout", seconds=amount)
    return int(number), Fault("rate_limit", retry_after_ms=int(amount))


def parse_faults(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[int, Fault]:
    """Click callback, so that a bad --fault is reported against the option (exit 2)."""
    return dict(parse_fault(v) for v in values)


def check_journal(ctx: click.Context, param: click.Parameter, path: Path | None) -> Path | None:
    """Open the journal once up front: an unwritable path is a usage error, not a thread crash."""
    if path is not None:
        try:
            path.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise click.BadParameter(f"cannot append to {str(path)!r}: {exc.strerror}") from exc
    return path


@click.group()
def main() -> None:
    """An OpenAI Chat Completions emulator for offline work."""


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8808,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--reply",
    "replies",
    multiple=True,
    help="A fixed reply text; repeat for several, answered in turn.",
)
@click.option(
    "--reply-tokens",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Without --reply: answer with texts of this many tokens.",
)
@click.option(
    "--context-window",
    type=click.IntRange(1),
    default=400_000,
    show_default=True,
    help="Prompts over this many tokens get context_length_exceeded.",
)
@click.option(
    "--api-key",
    default=None,
    help="Require this key (401 invalid_api_key otherwise). Default: accept any.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="N:KIND[:VALUE]",
    callback=parse_faults,
    help="Answer request N with a fault: rate_limit[:RETRY_AFTER_MS], server_error, "
    "or timeout[:SECONDS held]. Repeatable.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=check_journal,
    help="Append every request, as a JSON line, to this file.",
)
def serve_command(
    host: str,
    port: int,
    replies: tuple[str, ...],
    reply_tokens: int,
    context_window: int,
    api_key: str | None,
    faults: dict[int, Fault],
    journal: Path | None,
) -> None:
    """Serve the mock until Ctrl-C."""
    policy: ReplyPolicy = FixedReplies(list(replies)) if replies else TokenReplies(reply_tokens)
    config = MockConfig(
        replies=policy,
        context_window=context_window,
        api_key=api_key,
        faults=faults,
    )
    try:
        cache = seed_tiktoken_cache()
    except EncodingDataError as exc:
        raise click.ClickException(str(exc)) from exc

    def ready(server: MockServer) -> None:
        click.echo(f"mock-openai listening on {server.base_url}  (Ctrl-C stops it)")
        click.echo("Point a client at it with:")
        click.echo(f"  export OPENAI_BASE_URL={server.base_url}")
        click.echo(f"  export OPENAI_API_KEY={shlex.quote(api_key or DUMMY_KEY)}")
        click.echo(f"  export TIKTOKEN_CACHE_DIR={shlex.quote(str(cache))}   # tiktoken offline")

    try:
        serve(ChatCompletionsMock(config), host, port, journal, on_ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    click.echo("mock-openai stopped")
