"""``mock-openai``: serve the emulator on loopback, or probe any endpoint for conformance."""

from __future__ import annotations

import errno
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

from mock_api.console import Group
from mock_api.core import DEFAULT_MAX_BODY_BYTES, ChatCompletionsMock, Fault, MockConfig
from mock_api.limits import ServerLimits
from mock_api.offline import EncodingDataError, prepare_tiktoken
from mock_api.replies import FixedReplies, ReplyPolicy, TokenReplies

if TYPE_CHECKING:
    from mock_api.server import MockServer

DUMMY_KEY = "sk-mock-openai"
DEFAULT_PORT = 8808
DEFAULT_JOURNAL_SIZE = 256
DEFAULT_PROBE_MODEL = "gpt-4o-mini"
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


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """An OpenAI Chat Completions emulator for offline work."""


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help=f"Port to listen on (0: any free port). If the default {DEFAULT_PORT} is taken, a "
    "free port is used instead and printed.",
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
    help="Require exactly this key (401 invalid_api_key otherwise). Default: any key.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Also answer requests without an Authorization header (the API refuses them).",
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
    help="Append every request, as a JSON line, to this file (all of them, unlike memory).",
)
@click.option(
    "--journal-size",
    type=click.IntRange(1),
    default=DEFAULT_JOURNAL_SIZE,
    show_default=True,
    help="How many recent requests the server keeps in memory.",
)
@click.option(
    "--stream-delay-ms",
    type=click.FloatRange(0, 60_000),
    default=0,
    show_default=True,
    help="Pause between streamed chunks, so tokens visibly arrive one by one.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=DEFAULT_MAX_BODY_BYTES,
    show_default=True,
    help="Larger request bodies get 413 without being read.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0.1, 3600),
    default=ServerLimits.idle_timeout,
    show_default=True,
    help="Seconds before a connection with no request in progress is closed.",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    replies: tuple[str, ...],
    reply_tokens: int,
    context_window: int,
    api_key: str | None,
    no_auth: bool,
    faults: dict[int, Fault],
    journal: Path | None,
    journal_size: int,
    stream_delay_ms: float,
    max_body_bytes: int,
    idle_timeout: float,
) -> None:
    """Serve the mock on loopback until Ctrl-C."""
    policy: ReplyPolicy = FixedReplies(list(replies)) if replies else TokenReplies(reply_tokens)
    config = MockConfig(
        replies=policy,
        context_window=context_window,
        api_key=api_key,
        require_auth=not no_auth,
        faults=faults,
        max_body_bytes=max_body_bytes,
        journal_size=journal_size,
    )
    limits = ServerLimits(
        idle_timeout=idle_timeout,
        header_timeout=min(ServerLimits.header_timeout, idle_timeout),
        stream_delay_ms=stream_delay_ms,
    )
    try:
        cache = prepare_tiktoken()  # None: no cache can be written, encodings in memory
    except EncodingDataError as exc:
        raise click.ClickException(str(exc)) from exc
    from mock_api.server import MockServer, serve  # aiohttp loads here only

    explicit = ctx.get_parameter_source("port") is not ParameterSource.DEFAULT
    mock = ChatCompletionsMock(config)
    try:
        server = MockServer(mock, host, port, journal, limits)
    except OSError as exc:
        if explicit or exc.errno != errno.EADDRINUSE:
            raise click.ClickException(listen_error(host, port, exc)) from exc
        click.echo(
            f"mock-openai: port {port} is taken (another mock-openai, perhaps another "
            "user's); using a free port instead. Use --port N to choose one.",
            err=True,
        )
        try:
            server = MockServer(mock, host, 0, journal, limits)
        except OSError as again:
            raise click.ClickException(listen_error(host, 0, again)) from again

    def ready(server: MockServer) -> None:
        click.echo(f"mock-openai listening on {server.base_url}  (Ctrl-C stops it)")
        click.echo("Point a client at it with:")
        click.echo(f"  export OPENAI_BASE_URL={server.base_url}")
        click.echo(f"  export OPENAI_API_KEY={shlex.quote(api_key or DUMMY_KEY)}")
        if cache is not None:
            click.echo(
                f"  export TIKTOKEN_CACHE_DIR={shlex.quote(str(cache))}   # tiktoken offline"
            )

    serve(server, on_ready=ready)
    click.echo("mock-openai stopped")


def listen_error(host: str, port: int, exc: OSError) -> str:
    """Why we cannot listen, and what to do about it."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: {reason}. Another program (perhaps another "
            "user's mock-openai) has that port: choose another with --port N, or use --port 0 "
            "for any free port."
        )
    return f"cannot listen on {host}:{port}: {reason}"


def check_base_url(ctx: click.Context, param: click.Parameter, url: str) -> str:
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise click.BadParameter(f"{url!r}: expected http://HOST[:PORT]/v1 or https://...")
    return url


@main.command("conformance")
@click.option(
    "--base-url",
    required=True,
    callback=check_base_url,
    help="The API to probe, e.g. http://127.0.0.1:8808/v1 or https://api.openai.com/v1.",
)
@click.option(
    "--api-key",
    envvar="OPENAI_API_KEY",
    default=DUMMY_KEY,
    show_default="$OPENAI_API_KEY, else sk-mock-openai",
    help="The key to send.",
)
@click.option(
    "--model",
    default=DEFAULT_PROBE_MODEL,
    show_default=True,
    help="The model the probes ask for.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Seconds per probe.",
)
def conformance_command(base_url: str, api_key: str, model: str, timeout: float) -> None:
    """Run a fixed probe set against an endpoint and compare it with the API's answers.

    Exits 0 when every probe matches, 1 otherwise. Each probe is one small request; against
    the real API the two completions cost a few dozen tokens.
    """
    from mock_api.conformance import Unreachable, run_probes  # httpx loads here only

    try:
        table, ok = run_probes(base_url, api_key, model, timeout)
    except Unreachable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(table)
    if not ok:
        raise SystemExit(1)
