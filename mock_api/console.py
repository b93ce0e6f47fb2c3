"""The console scripts' one error format: how ``grade`` and ``mock-openai`` say what went wrong.

Every error a user can get, click's own (an unknown option), ours (a malformed case file) or
one nobody raised (a bug), leaves through ``Command.main`` and is shown by ``show_error``:
``error: `` (red on a terminal), then the problem naming its place, on standard error; a
mistake in the command line itself adds the usage and where help is. The exit code is the
exception's: 2 for a usage error or bad input, 1 otherwise. It lives here because grader
imports mock_api, never the reverse.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

# click 8.2 and later: a group run with no arguments shows its help through this exception.
_SHOWS_HELP: tuple[type[click.ClickException], ...] = tuple(
    c for c in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if c is not None
)


class InputError(click.ClickException):
    """Input the user named is unusable (a path, a case file, a case): exit 2, one ``error:``
    line per problem, and no usage (the command line was right; what it names is not)."""

    exit_code = 2

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def show_error(error: click.ClickException) -> None:
    """The one format of every error, on standard error."""
    if isinstance(error, _SHOWS_HELP):
        error.show()
        return
    problems = getattr(error, "problems", None) or (error.format_message(),)
    for problem in problems:
        click.echo(f"{click.style('error:', fg='red', bold=True)} {problem}", err=True)
    ctx = error.ctx if isinstance(error, click.UsageError) else None
    if ctx is not None:
        click.echo(ctx.get_usage(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            names = ctx.command.get_help_option_names(ctx)
            click.echo(f"Try '{ctx.command_path} {max(names, key=len)}' for help.", err=True)


def unexpected(exc: Exception) -> click.ClickException:
    """An error not raised for the user: a file the system refused, or a bug of trimlab's own,
    which says where it happened."""
    if isinstance(exc, OSError) and exc.strerror:
        return click.ClickException(f"{exc.filename or 'a file'}: {exc.strerror}")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return click.ClickException(
        f"trimlab failed: {type(exc).__name__}: {exc}{where}; please report this"
    )


class Command(click.Command):
    """``@click.command(cls=Command)``: click's handling of errors replaced by ``show_error``."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as error:
            show_error(error)
            sys.exit(error.exit_code)
        except click.Abort:  # Ctrl-C, or the end of input at a prompt
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except Exception as exc:  # raised for no user: still one line, never a traceback
            error = unexpected(exc)
            show_error(error)
            sys.exit(error.exit_code)
        sys.exit(code if isinstance(code, int) else 0)  # an int: click's Exit (e.g. --help)


class Group(Command, click.Group):
    """``@click.group(cls=Group)``: the same for a group; its commands' errors reach its
    ``main``."""
