"""Pieces shared by the commands: exit statuses, one-line errors, input limits."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer

from vmanalyze import exit_codes
from vmanalyze.errors import VmanalyzeError
from vmanalyze.inputs import Limits

#: The exit statuses (vmanalyze.exit_codes), by the names the commands use.
EXIT_OK = exit_codes.OK
EXIT_FAIL_ON = exit_codes.FINDINGS
EXIT_BAD_INPUT = exit_codes.BAD_INPUT
EXIT_USAGE = EXIT_BAD_INPUT
EXIT_INPUT_FAILED = exit_codes.INPUT_FAILED
EXIT_INTERNAL = exit_codes.INTERNAL
EXIT_INTERRUPTED = exit_codes.INTERRUPTED
EXIT_BROKEN_PIPE = exit_codes.BROKEN_PIPE

_debug = False
T = TypeVar("T")


def set_debug(value: bool) -> None:
    """``--debug``: the last-resort guard prints the traceback of an internal error."""
    global _debug
    _debug = _debug or value


def debug_enabled() -> bool:
    return _debug or bool(os.environ.get("VMANALYZE_DEBUG"))


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line to standard error and exit: never a traceback for bad input.

    The message may quote the input: its control characters are shown, not emitted.
    """
    from vmanalyze.cli.textsafe import visible

    typer.echo(f"vmanalyze: error: {visible(message)}", err=True)
    raise typer.Exit(code)


def parse_size(text: str) -> int:
    """'4G', '512M', '1000' -> bytes.

    >>> parse_size("4G"), parse_size("512MiB"), parse_size("1000")
    (4294967296, 536870912, 1000)
    """
    from vmanalyze.cache import parse_size as size_bytes

    try:
        return size_bytes(text)
    except ValueError:
        fail(f"not a size: {text!r} (examples: 4G, 512M)")


def input_limits(
    max_bytes: str, max_members: int, max_member_bytes: str, max_read_bytes: str
) -> Limits:
    """The :class:`Limits` of the ``--max-*`` options (README, "Limits on inputs")."""
    return Limits(
        max_bytes=parse_size(max_bytes),
        max_members=max_members,
        max_member_bytes=parse_size(max_member_bytes),
        max_read_bytes=parse_size(max_read_bytes),
    )


def quiet_stdout() -> None:
    """After a broken pipe: point standard output at /dev/null so the final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_guarded(work: Callable[[], T]) -> T:
    """Run a command body; our errors become one line and exit status 2.

    A reader that closed standard output early (``| head``) is not an error of ours: exit
    :data:`EXIT_BROKEN_PIPE`, silently (Typer would turn it into status 1, that of --fail-on).
    """
    try:
        return work()
    except VmanalyzeError as exc:
        fail(str(exc))
    except BrokenPipeError:
        quiet_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except KeyboardInterrupt:
        typer.echo("vmanalyze: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


STDIN = "-"


@contextmanager
def stdin_as_file(path: str, max_bytes: int) -> Iterator[str]:
    """``-`` -> a private temporary copy of standard input (deleted afterwards); else ``path``.

    The archive formats need seeking, so standard input is spooled to a file created
    exclusively in a fresh 0700 directory. More than ``max_bytes`` is refused (exit 2).
    """
    if path != STDIN:
        yield path
        return
    if sys.stdin is None or sys.stdin.isatty():
        fail("-: standard input is a terminal (pipe a bundle in: cat X.tar.gz | vmanalyze -)")
    tmpdir = tempfile.mkdtemp(prefix="vmanalyze-stdin-")
    target = os.path.join(tmpdir, "stdin")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        total = 0
        source = sys.stdin.buffer
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(1 << 20):
                total += len(chunk)
                if total > max_bytes:
                    fail(f"-: standard input is larger than --max-bytes ({max_bytes} bytes)")
                out.write(chunk)
        if total == 0:
            fail("-: standard input is empty")
        yield target
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
