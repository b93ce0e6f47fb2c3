"""``mock-openai``: run the emulator as a loopback server."""

from __future__ import annotations

from pathlib import Path

import click

from mock_api.core import ChatCompletionsMock, Fault, MockConfig
from mock_api.offline import seed_tiktoken_cache
from mock_api.replies import FixedReplies, ReplyPolicy, TokenReplies
from mock_api.server import MockServer, serve

DUMMY_KEY = "sk-mock-openai"


def parse_fault(value: str) -> tuple[int, Fault]:
    """``N:kind`` where kind is rate_limit, server_error or timeout."""
    number, sep, kind = value.partition(":")
    if not sep or not number.isdigit() or int(number) < 1:
        raise click.BadParameter(f"{value!r}: expected N:KIND, e.g. 3:rate_limit")
    try:
        return int(number), Fault(kind)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r}: KIND must be rate_limit, server_error or timeout"
        ) from exc


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
    metavar="N:KIND",
    help="Answer request N with a fault: rate_limit, server_error or timeout.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every request, as a JSON line, to this file.",
)
def serve_command(
    host: str,
    port: int,
    replies: tuple[str, ...],
    reply_tokens: int,
    context_window: int,
    api_key: str | None,
    faults: tuple[str, ...],
    journal: Path | None,
) -> None:
    """Serve the mock until Ctrl-C."""
    policy: ReplyPolicy = FixedReplies(list(replies)) if replies else TokenReplies(reply_tokens)
    config = MockConfig(
        replies=policy,
        context_window=context_window,
        api_key=api_key,
        faults=dict(parse_fault(f) for f in faults),
    )
    cache = seed_tiktoken_cache()

    def ready(server: MockServer) -> None:
        click.echo(f"mock-openai listening on {server.base_url}  (Ctrl-C stops it)")
        click.echo("Point a client at it with:")
        click.echo(f"  export OPENAI_BASE_URL={server.base_url}")
        click.echo(f"  export OPENAI_API_KEY={api_key or DUMMY_KEY}")
        click.echo(f"  export TIKTOKEN_CACHE_DIR={cache}   # tiktoken offline")

    try:
        serve(ChatCompletionsMock(config), host, port, journal, on_ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    click.echo("mock-openai stopped")
