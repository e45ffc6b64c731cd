"""The `vmanalyze` command line: a thin layer over the library.

`vmanalyze INPUT` analyzes one input: `analyze` is the group's default command, so options
and the input come in any order and `vmanalyze --format text db01.tar.gz` works like
`vmanalyze analyze --format text db01.tar.gz`. The group resolves it the way
click-default-group's ``DefaultGroup`` does (an unknown first word, option or not, goes with
everything after it to the default command); that class itself cannot be used, because
Typer >= 0.2x builds its groups on its own vendored copy of click, not on ``click.Group``.
The other commands are `vmanalyze export`, `vmanalyze rules` and `vmanalyze batch`.

:func:`main` is the boundary: usage errors, a closed pipe and unexpected exceptions each
become one line and their own exit status (the table in README.md, "Exit status").
"""

from __future__ import annotations

import sys
import traceback

import typer
from typer import _click
from typer.core import TyperGroup
from typer.exceptions import Abort

from vmanalyze.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    debug_enabled,
    quiet_stdout,
)
from vmanalyze.cli.options import DebugOption, VersionOption
from vmanalyze.cli.textsafe import visible


class _Group(TyperGroup):
    """Typer's group with a default command: an unknown first word is the input of `analyze`.

    As in click-default-group: the group ignores options it does not know (they belong to
    the default command), and :meth:`resolve_command` hands every argument to the default
    command when the first one is not a command's name.
    """

    ignore_unknown_options = True
    default_command = "analyze"

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        if args and args[0] not in self.commands and self.default_command in self.commands:
            command = self.commands[self.default_command]
            return command.name, command, list(args)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="vmanalyze",
    cls=_Group,
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    pretty_exceptions_enable=False,
)


@app.callback()
def _main_options(version: VersionOption = False, debug: DebugOption = False) -> None:
    """Diagnose Linux memory problems from vmcollect bundles and sosreports.

    `vmanalyze INPUT` is short for `vmanalyze analyze INPUT` (options may come before or
    after INPUT; `-` reads the input from standard input). Exit status: 0 clean, 1 a finding
    at or above --fail-on, 2 bad input or usage, 3 an input of a batch failed, 4 internal
    error, 141 standard output closed early (e.g. `| head`).

    \b
    Example:
        vmanalyze db01.tar.gz --verbose
    """


def _register_commands() -> None:
    """Import the command modules; each adds its commands to `app`."""
    from importlib import import_module

    if app.registered_commands:
        return
    for name in ("analyze_cmd", "export_cmd", "rules_cmd", "batch_cmd", "cache_cmd"):
        try:
            module = import_module(f"vmanalyze.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"vmanalyze.cli.{name}":
                raise
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `vmanalyze` console script: the last-resort guard lives here."""
    _register_commands()
    try:
        rv = app(args=argv, prog_name="vmanalyze", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except _click.ClickException as exc:
        exc.show()
        code = exc.exit_code if exc.exit_code != 1 else EXIT_USAGE
    except (Abort, KeyboardInterrupt):
        typer.echo("vmanalyze: interrupted", err=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # the commands turn theirs into EXIT_BROKEN_PIPE; this is the rest
        quiet_stdout()
        code = EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the documented last resort
        if debug_enabled():
            traceback.print_exc()
        message = visible(f"{type(exc).__name__}: {exc}")
        typer.echo(f"vmanalyze: internal error ({message}); --debug shows the traceback", err=True)
        code = EXIT_INTERNAL
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)
