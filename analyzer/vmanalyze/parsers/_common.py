"""Helpers shared by the parsers: key naming, unit conversion, numbers, errors.

Private to :mod:`vmanalyze.parsers`; the naming rule is documented in the package docstring.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from vmanalyze.errors import ParseError, SkipSource

KIB = 1024

# Words the kernel spells in mixed case that must stay one word in snake_case.
_WORD_FIXES = (("HugePages", "Hugepages"),)
_OVERRIDES = {
    "NStgid": "ns_tgid",
    "NSpid": "ns_pid",
    "NSpgid": "ns_pgid",
    "NSsid": "ns_sid",
    "PPid": "ppid",
}
_ACRONYM_RE = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_RE = re.compile(r"([a-z])([A-Z])")
_NON_WORD_RE = re.compile(r"[^0-9a-zA-Z]+")


@lru_cache(maxsize=8192)
def snake_key(key: str) -> str:
    """Turn a kernel key into the snake_case column name (without unit suffix).

    >>> [snake_key(k) for k in ("MemTotal", "Active(anon)", "Committed_AS", "HugePages_Total")]
    ['mem_total', 'active_anon', 'committed_as', 'hugepages_total']
    >>> [snake_key(k) for k in ("VmPTE", "SReclaimable", "DirectMap2M", "NSpid", "nr_free_pages")]
    ['vm_pte', 's_reclaimable', 'direct_map2m', 'ns_pid', 'nr_free_pages']
    """
    if key in _OVERRIDES:
        return _OVERRIDES[key]
    for old, new in _WORD_FIXES:
        key = key.replace(old, new)
    key = _ACRONYM_RE.sub(r"\1_\2", key)
    key = _CAMEL_RE.sub(r"\1_\2", key)
    key = _NON_WORD_RE.sub("_", key).strip("_")
    return key.lower()


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(lineno, line)`` for every non-blank line, trailing white space removed.

    Trailing NUL bytes (sysfs page padding seen on some 4.x node files) end the text.
    """
    for lineno, line in enumerate(text.rstrip("\x00").splitlines(), 1):
        line = line.rstrip()
        if line:
            yield lineno, line


def require_content(text: str, source: str) -> None:
    """Raise :class:`SkipSource` for a file with no content at all (0 bytes or blank)."""
    if not text.strip(" \t\r\n\x00"):
        raise SkipSource(source, "empty file (not readable when captured, or feature off)")


def single_value(text: str, source: str) -> str:
    """Return the content of a one-value file, stripped of white space and NUL padding.

    Raises :class:`SkipSource` when nothing is left.
    """
    value = text.strip(" \t\r\n\x00")
    if not value:
        raise SkipSource(source, "empty file (not readable when captured, or feature off)")
    return value


def to_int(value: str, source: str, lineno: int, line: str) -> int:
    """Parse a decimal integer or raise :class:`ParseError` naming the line."""
    try:
        return int(value)
    except ValueError:
        raise ParseError(source, lineno, line, f"not an integer: {value!r}") from None


def to_float(value: str, source: str, lineno: int, line: str) -> float:
    """Parse a decimal number or raise :class:`ParseError` naming the line."""
    try:
        return float(value)
    except ValueError:
        raise ParseError(source, lineno, line, f"not a number: {value!r}") from None


def kb_value(key: str, raw: str, source: str, lineno: int, line: str) -> tuple[str, int]:
    """Return ``(column, value)`` for a ``N`` or ``N kB`` value: kB becomes ``<key>_bytes``."""
    parts = raw.split()
    if len(parts) == 2 and parts[1] == "kB":
        return snake_key(key) + "_bytes", to_int(parts[0], source, lineno, line) * KIB
    if len(parts) == 1:
        return snake_key(key), to_int(parts[0], source, lineno, line)
    raise ParseError(source, lineno, line, "expected 'N' or 'N kB'")


def parse_ranges(text: str, source: str = "ranges") -> list[int]:
    """Parse the kernel's list format ``0-3,8,10-11`` into a sorted list of ints.

    An empty file or a lone newline (a node without CPUs) is the empty list.

    >>> parse_ranges("0-3,8,10-11\\n")
    [0, 1, 2, 3, 8, 10, 11]
    >>> parse_ranges("\\n")
    []
    """
    body = text.strip(" \t\r\n\x00")
    if not body:
        return []
    out: list[int] = []
    for part in body.split(","):
        lo, sep, hi = part.strip().partition("-")
        first = to_int(lo, source, 1, body)
        last = to_int(hi, source, 1, body) if sep else first
        if last < first:
            raise ParseError(source, 1, body, f"reversed range {part!r}")
        out.extend(range(first, last + 1))
    return sorted(set(out))
