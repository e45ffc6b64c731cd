"""Exceptions raised by vmanalyze.

Every error the analyzer raises on purpose derives from :class:`VmanalyzeError`, so a caller can
catch the whole family at once and still let programming errors (``TypeError``...) through.
"""

from __future__ import annotations


class VmanalyzeError(Exception):
    """Base class of every error raised on purpose by vmanalyze."""


class ParseError(VmanalyzeError):
    """A line of a kernel file does not have the format its parser expects.

    ``source`` names the parser (e.g. ``meminfo``), ``lineno`` is 1-based (0 when the error is
    about the file as a whole) and ``line`` is the offending text.
    """

    def __init__(self, source: str, lineno: int, line: str, reason: str = "") -> None:
        self.source = source
        self.lineno = lineno
        self.line = line
        self.reason = reason
        shown = line if len(line) <= 120 else line[:117] + "..."
        where = f"{source}: line {lineno}: {shown!r}"
        super().__init__(f"{where}: {reason}" if reason else where)


class SkipSource(VmanalyzeError):
    """The file holds nothing to parse (e.g. 0 bytes: it could not be read when captured).

    Not a format error: callers count the file as skipped, not failed.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: skipped: {reason}")


class InputError(VmanalyzeError):
    """An input given to vmanalyze (a bundle, a directory, an option) cannot be used."""

    def __init__(self, input: str, reason: str) -> None:
        self.input = input
        self.reason = reason
        super().__init__(f"{input}: {reason}")


class UnsupportedFormatError(VmanalyzeError):
    """The input is of a format (or format version) this vmanalyze cannot read."""
