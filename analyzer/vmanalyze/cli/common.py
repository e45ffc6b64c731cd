"""Pieces shared by the commands: one-line errors, input limits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer

from vmanalyze.errors import VmanalyzeError
from vmanalyze.inputs import Limits

EXIT_BAD_INPUT = 2
T = TypeVar("T")

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line to standard error and exit: never a traceback for bad input."""
    typer.echo(f"vmanalyze: error: {message}", err=True)
    raise typer.Exit(code)


def parse_size(text: str) -> int:
    """'4G', '512M', '1000' -> bytes.

    >>> parse_size("4G"), parse_size("512MiB"), parse_size("1000")
    (4294967296, 536870912, 1000)
    """
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1] if value and value[-1] in _UNITS else ""
    number = value[: -len(unit)] if unit else value
    try:
        return int(float(number) * _UNITS[unit])
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


def run_guarded(work: Callable[[], T]) -> T:
    """Run a command body; our errors become one line and exit status 2."""
    try:
        return work()
    except VmanalyzeError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("vmanalyze: interrupted", err=True)
        sys.exit(130)
